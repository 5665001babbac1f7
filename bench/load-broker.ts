/**
 * The broker side of a bench/load.ts run: a broker of its own (the built
 * `ferry start` as a child process, temp data directory, free ports) or the
 * addresses of a running one; the topic and the group set up before the
 * clients start; and what the broker spent, from /proc and from its
 * Prometheus metrics.
 *
 *   own broker   `node dist/cli/ferry.js start --data-dir <temp> --host 127.0.0.1
 *                --http-port 0 --kafka-port 0 --config <temp>/server.properties`, the
 *                file setting group.initial.rebalance.delay.ms to 500 (the consumers
 *                join at once: a group's first generation need not wait Kafka's 3 s
 *                for more members). Ports come from its 'ferry ready' log line;
 *                SIGTERM stops it and the directory is removed.
 *   usage        own broker: CPU and peak RSS from /proc/<pid> (probe.ts
 *                probeServerProcess). Either: event-loop lag p99 and max from
 *                /metrics (prom-client's nodejs_eventloop_lag_*: a histogram reset
 *                at every scrape, so a scrape at the go and one at the end cover
 *                the run, unless something else scrapes meanwhile); a running broker
 *                also gives its CPU (process_cpu_seconds_total) and RSS at the end.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BrokerHttpApi, CliError } from '../src/cli/http-api.js';
import { KafkaAdminClient } from '../src/client/kafka/admin-client.js';
import type { DoorAddresses } from './load-doors.js';
import { LoadSetupError } from './load-options.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUILT_FERRY = path.join(ROOT, 'dist/cli/ferry.js');

const BROKER_START_WAIT_MS = 30_000;
/** group.initial.rebalance.delay.ms of an own broker: the consumers' joins, sent at once, land well within it. */
const GROUP_INITIAL_REBALANCE_DELAY_MS = 500;
const BROKER_STOP_WAIT_MS = 15_000;
const LOG_TAIL_CHARS = 2_000;
const GROUP_WAIT_MS = 60_000;
const GROUP_POLL_MS = 100;
/** acks 0: the log end is read again this often until two reads agree (appends still landing). */
const SETTLE_POLL_MS = 200;
const SETTLE_WAIT_MS = 10_000;
/**
 * prom-client samples the loop every 10 ms (its eventLoopMonitoringPrecision
 * default) and records the whole interval, so an idle loop reads 10 ms: this
 * much is taken off its lag figures.
 */
const PROM_LAG_RESOLUTION_MS = 10;
const MiB = 1024 * 1024;

export interface OwnBroker {
  pid: number;
  addresses: Omit<DoorAddresses, 'clusterId'>;
  stop(): Promise<void>;
}

/** Starts the built broker on a temp data directory and free loopback ports. */
export async function startOwnBroker(): Promise<OwnBroker> {
  if (!fs.existsSync(BUILT_FERRY)) throw new LoadSetupError(`${path.relative(process.cwd(), BUILT_FERRY)} is missing: run \`npm run build\` first (the load tool starts the built broker), or point it at a running one with --broker`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-load-'));
  const config = path.join(root, 'server.properties');
  fs.writeFileSync(config, `group.initial.rebalance.delay.ms=${GROUP_INITIAL_REBALANCE_DELAY_MS}\n`);
  const args = [BUILT_FERRY, 'start', '--data-dir', path.join(root, 'data'), '--host', '127.0.0.1', '--http-port', '0', '--kafka-port', '0', '--advertised-host', '127.0.0.1', '--config', config];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let logTail = '';
  const keepTail = (text: string): void => void (logTail = (logTail + text).slice(-LOG_TAIL_CHARS));
  child.stderr!.setEncoding('utf8').on('data', keepTail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const remove = (): void => fs.rmSync(root, { recursive: true, force: true });
  try {
    const ready = await readyLine(child, keepTail, exited);
    const kafkaPort = Number(String(ready['kafka']).split(':').at(-1));
    const httpPort = Number(new URL(String(ready['http'])).port);
    return {
      pid: child.pid!,
      addresses: { kafka: `127.0.0.1:${kafkaPort}`, httpUrl: `http://127.0.0.1:${httpPort}`, wsUrl: `ws://127.0.0.1:${httpPort}/ws` },
      stop: async () => {
        await stopChild(child, exited);
        remove();
      },
    };
  } catch (error) {
    await stopChild(child, exited);
    remove();
    throw new LoadSetupError(`the broker did not start: ${(error as Error).message}\n${logTail.trim()}`);
  }
}

/** The broker's 'ferry ready' log line; the rest of its log is kept as a tail only (it must be read, or the broker blocks on a full pipe). */
function readyLine(child: ChildProcess, keepTail: (text: string) => void, exited: Promise<void>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`no 'ferry ready' line within ${BROKER_START_WAIT_MS} ms`)), BROKER_START_WAIT_MS);
    lines.on('line', (line) => {
      keepTail(`${line}\n`);
      let entry: Record<string, unknown> = {};
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (entry['msg'] !== 'ferry ready') return;
      clearTimeout(timer);
      resolve(entry);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`it exited (${child.exitCode ?? child.signalCode})`));
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, BROKER_STOP_WAIT_MS)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}

// --- topic and group -------------------------------------------------------------------------

export async function clusterId(httpUrl: string): Promise<string> {
  const response = await fetch(`${httpUrl}/v3/clusters`).catch((error: unknown) => {
    throw new LoadSetupError(`cannot reach the broker's HTTP door at ${httpUrl} (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message}): is it running there? (--http-url)`);
  });
  const body = (await response.json()) as { data: Array<{ cluster_id: string }> };
  return body.data[0]!.cluster_id;
}

export interface TopicSetup {
  created: boolean;
  partitions: number;
}

/** `call`, with the broker's refusal (the CLI's one-line CliError) as a LoadSetupError about `what`. */
async function asked<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CliError) throw new LoadSetupError(`${what}: ${error.message}`);
    throw error;
  }
}

/** Creates `topic` with `partitions` and `configs` unless it exists; either way says how many partitions it has. */
export async function ensureTopic(httpUrl: string, topic: string, partitions: number, configs: Record<string, string>): Promise<TopicSetup> {
  const api = new BrokerHttpApi(httpUrl);
  const existing = (await asked('listing topics', () => api.listTopics())).find((each) => each.topic_name === topic);
  if (existing !== undefined) return { created: false, partitions: existing.partitions_count };
  const configList = Object.entries(configs).map(([name, value]) => ({ name, value }));
  const created = await asked(`creating topic ${topic}`, () => api.createTopic(topic, partitions, configList));
  return { created: true, partitions: created.partitions_count };
}

/** Each partition's log end offset, by partition number. */
export async function logEndOffsets(httpUrl: string, topic: string): Promise<number[]> {
  const partitions = await asked(`the partitions of ${topic}`, () => new BrokerHttpApi(httpUrl).partitions(topic));
  const ends: number[] = [];
  for (const partition of partitions) ends[partition.partition_id] = partition.log_end_offset;
  return ends;
}

/** The log end once appends stopped landing: read until two reads SETTLE_POLL_MS apart agree (acks 0 answers before the append). */
export async function settledLogEndOffsets(httpUrl: string, topic: string): Promise<number[]> {
  const deadline = performance.now() + SETTLE_WAIT_MS;
  let ends = await logEndOffsets(httpUrl, topic);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    const again = await logEndOffsets(httpUrl, topic);
    if (again.every((end, partition) => end === ends[partition]) || performance.now() > deadline) return again;
    ends = again;
  }
}

/**
 * Commits `offsets` (by partition) for `group` before any member joins, so
 * each partition starts there whoever gets it and however late it asks.
 */
export async function commitGroupOffsets(kafka: string, group: string, topic: string, offsets: readonly number[]): Promise<void> {
  const admin = new KafkaAdminClient({ bootstrapServer: kafka, clientId: 'ferry-load' });
  try {
    const outcomes = await admin.commitOffsets(group, offsets.map((offset, partition) => ({ topic, partition, offset: BigInt(offset) })));
    const failed = outcomes.find((outcome) => outcome.error !== null);
    if (failed !== undefined) throw new LoadSetupError(`committing the start offsets of group ${group}: ${failed.error!.message}`);
  } finally {
    admin.close();
  }
}

/**
 * Waits until `group` is Stable with `members` members whose assignments
 * share out every partition of `topic` exactly once: no rebalance is left to
 * move a partition once the producers start.
 */
export async function groupSettled(kafka: string, group: string, topic: string, partitions: number, members: number): Promise<void> {
  const admin = new KafkaAdminClient({ bootstrapServer: kafka, clientId: 'ferry-load' });
  const deadline = performance.now() + GROUP_WAIT_MS;
  let seen = 'not described yet';
  try {
    while (performance.now() < deadline) {
      const description = await admin.describeGroup(group);
      const assigned = description.members.flatMap((member) => member.assignment.filter((each) => each.topic === topic).flatMap((each) => each.partitions));
      seen = `${description.state}, ${description.members.length} members, partitions [${assigned.sort((a, b) => a - b).join(', ')}]`;
      const once = assigned.length === partitions && new Set(assigned).size === partitions;
      if (description.state === 'Stable' && description.members.length === members && once) return;
      await new Promise((resolve) => setTimeout(resolve, GROUP_POLL_MS));
    }
  } finally {
    admin.close();
  }
  throw new LoadSetupError(`group ${group} did not settle within ${GROUP_WAIT_MS} ms with ${members} members sharing ${partitions} partitions (last seen: ${seen})`);
}

// --- usage -----------------------------------------------------------------------------------

/** One sample of the metrics that matter here, null where the broker does not expose it. */
export interface MetricsSample {
  atMs: number;
  cpuSeconds: number | null;
  rssBytes: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
}

function metric(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([^ \\n]+)`, 'm').exec(text);
  return match === null ? null : Number(match[1]);
}

function lagMs(seconds: number | null): number | null {
  return seconds === null ? null : Math.max(0, seconds * 1000 - PROM_LAG_RESOLUTION_MS);
}

/** Scrapes /metrics (which also restarts prom-client's loop-lag histogram); null if the broker has none. */
export async function sampleMetrics(httpUrl: string): Promise<MetricsSample | null> {
  try {
    const response = await fetch(`${httpUrl}/metrics`);
    if (response.status !== 200) return null;
    const text = await response.text();
    return {
      atMs: performance.now(),
      cpuSeconds: metric(text, 'process_cpu_seconds_total'),
      rssBytes: metric(text, 'process_resident_memory_bytes'),
      lagP99Ms: lagMs(metric(text, 'nodejs_eventloop_lag_p99_seconds')),
      lagMaxMs: lagMs(metric(text, 'nodejs_eventloop_lag_max_seconds')),
    };
  } catch {
    return null;
  }
}

export interface BrokerUsageReport {
  /** Whether this tool started the broker (then CPU and RSS come from /proc). */
  started: boolean;
  pid: number | null;
  /** User + system CPU over the run's wall time: 1.0 is one core busy throughout. */
  cpuCores: number | null;
  /** Own broker: peak VmRSS, sampled every 50 ms. Running broker: null. */
  rssMaxMiB: number | null;
  /** RSS at the end of the run (from /metrics), when there is no peak. */
  rssEndMiB: number | null;
  loopLagP99Ms: number | null;
  loopLagMaxMs: number | null;
  wallMs: number;
}

/** A running broker's usage between two /metrics samples. */
export function usageFromMetrics(before: MetricsSample | null, after: MetricsSample | null, wallMs: number): BrokerUsageReport {
  const cpuSeconds = before?.cpuSeconds != null && after?.cpuSeconds != null ? after.cpuSeconds - before.cpuSeconds : null;
  return {
    started: false,
    pid: null,
    cpuCores: cpuSeconds === null ? null : (cpuSeconds * 1000) / wallMs,
    rssMaxMiB: null,
    rssEndMiB: after?.rssBytes == null ? null : after.rssBytes / MiB,
    loopLagP99Ms: after?.lagP99Ms ?? null,
    loopLagMaxMs: after?.lagMaxMs ?? null,
    wallMs,
  };
}

/** An own broker's usage: /proc figures (probe.ts) with the loop lag of the closing /metrics sample. */
export function usageFromProc(pid: number, proc: { cpuCores: number; rssMaxBytes: number; wallMs: number }, after: MetricsSample | null): BrokerUsageReport {
  return {
    started: true,
    pid,
    cpuCores: proc.cpuCores,
    rssMaxMiB: proc.rssMaxBytes / MiB,
    rssEndMiB: null,
    loopLagP99Ms: after?.lagP99Ms ?? null,
    loopLagMaxMs: after?.lagMaxMs ?? null,
    wallMs: proc.wallMs,
  };
}
