/**
 * Brokers for the cluster tests: the built CLI (dist/cli/ferry.js) started as
 * a child process the way an operator runs it, joined to a test etcd, with its
 * JSON log lines kept for the test to read. `waitFor` polls for what a
 * cluster settles into.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../storage/helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
export const BUILT_CLI = path.join(root, 'dist/cli/ferry.js');
const WAIT_MS = 15_000;
const POLL_MS = 50;

export interface BrokerProcess {
  id: number;
  child: ChildProcess;
  kafkaPort: number;
  httpPort: number;
  dataDir: string;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export interface BrokerStart {
  id: number;
  etcdEndpoint: string;
  clusterName: string;
  /** A new temporary directory unless given. */
  dataDir?: string;
  /** More `ferry start` options. */
  extra?: readonly string[];
}

/** `ferry start` arguments (the CLI path first) for a broker on loopback, on free ports. */
export function startArgs(start: BrokerStart): string[] {
  const dataDir = start.dataDir ?? tempDir(`ferry-${start.clusterName}-${start.id}-`);
  return [BUILT_CLI, 'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--advertised-host', '127.0.0.1', '--http-port', '0', '--kafka-port', '0', '--broker-id', String(start.id), '--etcd', start.etcdEndpoint, '--cluster-name', start.clusterName, ...(start.extra ?? [])];
}

/** Starts a broker and resolves once it logged 'ferry ready' (it joined the cluster before that). */
export async function startBroker(start: BrokerStart): Promise<BrokerProcess> {
  const args = startArgs(start);
  const dataDir = args[args.indexOf('--data-dir') + 1]!;
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const logs: Array<Record<string, unknown>> = [];
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'ferry ready') resolve(entry);
    });
    void exited.then((code) => reject(new Error(`broker ${start.id} exited with ${code} before it was ready`)));
  });
  const entry = await ready;
  return { id: start.id, child, logs, exited, dataDir, kafkaPort: Number(String(entry.kafka).split(':').at(-1)), httpPort: Number(new URL(String(entry.http)).port) };
}

/** SIGKILLs the brokers still running and waits for them all to exit. */
export async function killAll(brokers: readonly BrokerProcess[]): Promise<void> {
  for (const broker of brokers) if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
  await Promise.all(brokers.map((broker) => broker.exited));
}

/** Polls `probe` until it gives a value (not undefined), failing after 15 s with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}
