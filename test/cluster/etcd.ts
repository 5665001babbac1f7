/**
 * A throwaway single-member etcd for the cluster tests: Debian's etcd-server
 * (/usr/bin/etcd, installed by scripts/install-test-deps.sh, which npm test
 * runs) on loopback, on free ports, with a temporary data directory that
 * stop() removes; restart() brings it back on the same directory.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import { decodePartitionState, type ClusterKeys, type PartitionState } from '../../src/cluster/keys.js';

export const ETCD_BINARY = '/usr/bin/etcd';
const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 100;

export interface RunningEtcd {
  /** The client URL, http://127.0.0.1:<port>. */
  endpoint: string;
  stop(): Promise<void>;
  /** SIGKILLs etcd and starts it again on the same data directory and ports after `downMs`. */
  restart(downMs: number): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export async function startEtcd(): Promise<RunningEtcd> {
  if (!fs.existsSync(ETCD_BINARY)) throw new Error(`${ETCD_BINARY} is missing: the cluster tests need Debian's etcd-server (bash scripts/install-test-deps.sh installs it)`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-etcd-'));
  const clientUrl = `http://127.0.0.1:${await freePort()}`;
  const peerUrl = `http://127.0.0.1:${await freePort()}`;
  const name = 'ferry-test';
  const args = ['--name', name, '--data-dir', dataDir, '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `${name}=${peerUrl}`, '--log-level', 'error'];
  let member = await spawnMember(args, clientUrl);
  const stop = async (): Promise<void> => {
    await member.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const restart = async (downMs: number): Promise<void> => {
    await member.kill();
    await sleep(downMs);
    member = await spawnMember(args, clientUrl);
  };
  return { endpoint: clientUrl, stop, restart };
}

interface Member {
  kill(): Promise<void>;
}

/** One etcd process on `args`, resolved once healthy (killed again if it never is). */
async function spawnMember(args: string[], clientUrl: string): Promise<Member> {
  const child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitHealthy(clientUrl, child, () => stderr);
  } catch (error) {
    await kill();
    throw error;
  }
  return { kill };
}

async function waitHealthy(clientUrl: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${stderr()}`);
    try {
      const health = (await (await fetch(`${clientUrl}/health`)).json()) as { health?: string };
      if (health.health === 'true') return;
    } catch {
      // Not listening yet.
    }
    await sleep(READY_POLL_MS);
  }
  throw new Error(`etcd on ${clientUrl} not healthy after ${READY_TIMEOUT_MS} ms: ${stderr()}`);
}

/** Every partition state of a topic in etcd, by partition. */
export async function partitionStates(client: Etcd3, keys: ClusterKeys, topic: string): Promise<PartitionState[]> {
  const found = await client.getAll().prefix(`${keys.partitionsPrefix}${topic}/`).exec();
  const states: PartitionState[] = [];
  for (const kv of found.kvs) states[Number(kv.key.toString().split('/').at(-1))] = decodePartitionState(kv.key.toString(), kv.value.toString());
  return states;
}
