/**
 * Cluster coordination through a real etcd (test/cluster/etcd.ts) with real
 * brokers: the built CLI (dist/cli/ferry.js) as child processes, as an
 * operator runs it. The cases run in order on the same etcd and brokers:
 * broker 1 starts first and so is controller, broker 2 has a 2 s lease so a
 * killed one leaves quickly, broker 1's 60 s lease shows that a clean stop
 * does not wait for it.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBrokers } from '../../src/cluster/broker-directory.js';
import { currentControllerId } from '../../src/cluster/controller.js';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { tempDir } from '../storage/helpers.js';
import { startEtcd, type RunningEtcd } from './etcd.js';

const root = path.resolve(import.meta.dirname, '../..');
const builtCli = path.join(root, 'dist/cli/ferry.js');
const CLUSTER = 'test';
const keys = clusterKeys(CLUSTER);
const WAIT_MS = 15_000;
const POLL_MS = 50;

interface BrokerProcess {
  id: number;
  child: ChildProcess;
  kafkaPort: number;
  httpPort: number;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

let etcd: RunningEtcd;
let client: Etcd3;
const brokers: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
});

afterAll(async () => {
  for (const broker of brokers) if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
  await Promise.all(brokers.map((broker) => broker.exited));
  client?.close();
  await etcd?.stop();
});

function startArgs(id: number, extra: string[]): string[] {
  return [builtCli, 'start', '--data-dir', tempDir(`ferry-cluster-${id}-`), '--host', '127.0.0.1', '--advertised-host', '127.0.0.1', '--http-port', '0', '--kafka-port', '0', '--broker-id', String(id), '--etcd', etcd.endpoint, '--cluster-name', CLUSTER, ...extra];
}

/** Starts a broker and resolves once it logged 'ferry ready' (it joined the cluster before that). */
async function startBroker(id: number, extra: string[] = []): Promise<BrokerProcess> {
  const child = spawn(process.execPath, startArgs(id, extra), { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const logs: Array<Record<string, unknown>> = [];
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'ferry ready') resolve(entry);
    });
    void exited.then((code) => reject(new Error(`broker ${id} exited with ${code} before it was ready`)));
  });
  const entry = await ready;
  const broker = { id, child, logs, exited, kafkaPort: Number(String(entry.kafka).split(':').at(-1)), httpPort: Number(new URL(String(entry.http)).port) };
  brokers.push(broker);
  return broker;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

const logged = (broker: BrokerProcess, msg: string): Record<string, unknown> | undefined => broker.logs.find((entry) => entry.msg === msg);
const registeredIds = async (): Promise<number[]> => (await listBrokers(client, keys)).map((broker) => broker.id);
const sameIds = (ids: number[], expected: number[]): boolean => ids.length === expected.length && ids.every((id, i) => id === expected[i]);

describe('cluster coordination through etcd (ferry start --etcd)', () => {
  let first: BrokerProcess;
  let second: BrokerProcess;

  it('two brokers register and both see each other; exactly one is controller', async () => {
    first = await startBroker(1, ['--rack', 'rack-a', '--lease-ttl-seconds', '60']);
    await waitFor('broker 1 elected controller', () => logged(first, 'elected controller'));
    second = await startBroker(2, ['--rack', 'rack-b', '--lease-ttl-seconds', '2']);

    expect(await listBrokers(client, keys)).toEqual([
      { id: 1, host: '127.0.0.1', kafkaPort: first.kafkaPort, httpPort: first.httpPort, rack: 'rack-a' },
      { id: 2, host: '127.0.0.1', kafkaPort: second.kafkaPort, httpPort: second.httpPort, rack: 'rack-b' },
    ]);
    // Broker 2 found broker 1 when it joined; broker 1 saw broker 2 arrive through its watch.
    expect(logged(second, 'joined the cluster')).toMatchObject({ brokers: [1, 2], controllerId: 1 });
    await waitFor('broker 1 to see broker 2', () => first.logs.find((entry) => entry.msg === 'live brokers changed' && JSON.stringify(entry.brokers) === '[1,2]'));

    expect(await currentControllerId(client, keys)).toBe(1);
    await sleep(200); // time for a wrong second election to show
    expect(logged(second, 'elected controller')).toBeUndefined();
  });

  it('ferry cluster describe prints the brokers and the controller', () => {
    const result = spawnSync(process.execPath, [builtCli, 'cluster', 'describe', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BROKER-ID\s+KAFKA-ENDPOINT\s+HTTP-ENDPOINT\s+RACK\s+CONTROLLER$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/))).toEqual([
      ['1', `127.0.0.1:${first.kafkaPort}`, `127.0.0.1:${first.httpPort}`, 'rack-a', 'yes'],
      ['2', `127.0.0.1:${second.kafkaPort}`, `127.0.0.1:${second.httpPort}`, 'rack-b', 'no'],
    ]);
  });

  it('a second live broker with the same id is refused, and the first keeps its registration', () => {
    const result = spawnSync(process.execPath, startArgs(2, []), { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`ferry: broker id 2 is already registered by a live broker (127.0.0.1:${second.kafkaPort}); each broker of a cluster needs its own --broker-id\n`);
    return expect(listBrokers(client, keys)).resolves.toContainEqual(expect.objectContaining({ id: 2, kafkaPort: second.kafkaPort }));
  });

  it('a controller that stops cleanly leaves at once and the other broker becomes controller', async () => {
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // Broker 1's lease has a 60 s TTL: gone within the wait only because it was revoked.
    await waitFor('broker 1 to leave', async () => (sameIds(await registeredIds(), [2]) ? true : undefined));
    await waitFor('broker 2 elected controller', () => logged(second, 'elected controller'));
    expect(await currentControllerId(client, keys)).toBe(2);
  });

  it('a broker whose lease is revoked behind its back registers again under a new lease', async () => {
    const third = await startBroker(3, ['--lease-ttl-seconds', '2']);
    const leaseOf = async (): Promise<string | undefined> => (await client.get(keys.brokerKey(3)).exec()).kvs[0]?.lease;
    const lease = await waitFor('broker 3 registered', leaseOf);
    await client.leaseClient.leaseRevoke({ ID: lease });
    const renewed = await waitFor('broker 3 registered again', async () => {
      const current = await leaseOf();
      return current !== undefined && current !== lease ? current : undefined;
    });
    expect(renewed).not.toBe(lease);
    expect(logged(third, 'cluster lease lost; registering again')).toBeDefined();
  });

  it('a killed controller vanishes when its lease expires and the controller moves', async () => {
    second.child.kill('SIGKILL');
    await second.exited;
    expect(await registeredIds()).toContain(2); // no one revoked its lease: it lives until its 2 s TTL runs out
    await waitFor('broker 2 to expire', async () => (sameIds(await registeredIds(), [3]) ? true : undefined));
    const third = brokers.find((broker) => broker.id === 3)!;
    await waitFor('broker 3 elected controller', () => logged(third, 'elected controller'));
    expect(await currentControllerId(client, keys)).toBe(3);
  });

  it('a controller whose campaign lease is revoked behind its back steps down and campaigns again', async () => {
    const third = brokers.find((broker) => broker.id === 3)!;
    const candidates = await client.getAll().prefix(`${keys.root}election/${keys.controllerElection}/`).exec();
    expect(candidates.kvs.map((kv) => kv.value.toString())).toEqual(['3']);
    await client.leaseClient.leaseRevoke({ ID: candidates.kvs[0]!.lease });
    await waitFor('broker 3 to step down', () => third.logs.find((entry) => entry.msg === 'controller changed' && entry.isController === false));
    await waitFor('broker 3 elected again', () => (third.logs.filter((entry) => entry.msg === 'elected controller').length === 2 ? true : undefined));
    expect(await currentControllerId(client, keys)).toBe(3);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(await registeredIds()).toEqual([]);
  });
});
