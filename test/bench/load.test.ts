/**
 * The load generator (bench/load.ts) end to end, as a user runs it: the CLI
 * as a child process with tiny parameters, each door against a broker of its
 * own (started by the tool from dist/), plus a closed-loop run, an acks=all
 * run on a topic with flush.messages=1, and a run against a broker already
 * running (in this process, as the door tests open one). Each run must
 * account for every record: as many read as acknowledged, none twice.
 * Nothing asserts on timing: the latency figures only have to be numbers.
 * The options (--help, defaults, refusals) are checked in this process.
 *
 * The runs go RUNS_AT_ONCE at a time (describe.concurrent, and a slot each):
 * a run spends most of its wall time starting processes and waiting out its
 * schedule, so overlapping them keeps this file within its budget on a
 * 2-core machine.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadSetupError, parseOptions, usage, type LoadOptions } from '../../bench/load-options.js';
import type { LoadReport } from '../../bench/load-report.js';
import { Broker } from '../../src/broker/broker.js';
import { startKafkaServer, type RunningKafkaServer } from '../../src/protocol/kafka/server.js';
import { startServer, type RunningServer } from '../../src/protocol/server.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** A run takes ~10 s alone here; generous, for a loaded machine. */
const RUN_WAIT_MS = 90_000;
const RUNS_AT_ONCE = 3;
/** A test may wait for slots behind every other run. */
const TEST_TIMEOUT_MS = 4 * RUN_WAIT_MS;
/** The door runs' shape, from the issue: two of everything, a slow open-loop rate, small batches. */
const SMALL = ['--partitions', '2', '--producers', '2', '--consumers', '2', '--rate', '500', '--duration', '2', '--batch', '10'];
/** The other runs: one of each, shorter. */
const TINY = ['--producers', '1', '--consumers', '1', '--warmup', '0.5', '--duration', '1', '--batch', '10'];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Free run slots, and the runs waiting for one. */
let slotsFree = RUNS_AT_ONCE;
const slotWaiters: Array<() => void> = [];

async function inSlot<T>(run: () => Promise<T>): Promise<T> {
  if (slotsFree > 0) slotsFree--;
  else await new Promise<void>((resolve) => slotWaiters.push(resolve));
  try {
    return await run();
  } finally {
    const next = slotWaiters.shift();
    if (next !== undefined) next();
    else slotsFree++;
  }
}

/** Runs `node --import tsx bench/load.ts <args>` without blocking this process (a broker may be serving in it). */
function runCli(args: readonly string[]): Promise<CliRun> {
  return inSlot(() => spawnCli(args));
}

function spawnCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_WAIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI with --json and checks what every sound run reports. */
async function runLoad(args: readonly string[]): Promise<LoadReport> {
  const run = await runCli([...args, '--json']);
  expect(run.code, `exit status; stderr:\n${run.stderr}\nstdout:\n${run.stdout}`).toBe(0);
  const report = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as LoadReport;
  expect(report.ok).toBe(true);
  expect(report.errors).toEqual([]);
  expect(report.produced.records).toBeGreaterThan(0);
  expect(report.produced.failed).toBe(0);
  expect(report.consumed).not.toBeNull();
  expect(report.consumed!.records).toBe(report.produced.records);
  expect(report.consumed!).toMatchObject({ lost: 0, duplicates: 0, unexpected: 0 });
  for (const rate of [report.produced.recordsPerSecond, report.produced.mbPerSecond, report.consumed!.recordsPerSecond, report.consumed!.mbPerSecond]) {
    expect(Number.isFinite(rate) && rate > 0).toBe(true);
  }
  expect(report.latencyMs!.samples).toBeGreaterThan(0);
  for (const latency of [report.latencyMs!.p50, report.latencyMs!.p99, report.latencyMs!.p999, report.latencyMs!.max]) expect(Number.isFinite(latency)).toBe(true);
  expect(report.latencyMs!.p50).toBeLessThanOrEqual(report.latencyMs!.max);
  return report;
}

/** A broker the tool started reports its usage from /proc and its loop lag from /metrics. */
function expectOwnBrokerUsage(report: LoadReport): void {
  expect(report.broker.started).toBe(true);
  expect(report.broker.pid).toBeGreaterThan(0);
  for (const value of [report.broker.cpuCores, report.broker.rssMaxMiB, report.broker.loopLagP99Ms, report.broker.loopLagMaxMs]) expect(Number.isFinite(value)).toBe(true);
  expect(report.broker.rssMaxMiB).toBeGreaterThan(0);
}

let dataDir: string;
let broker: Broker;
let http: RunningServer;
let kafka: RunningKafkaServer;

beforeAll(async () => {
  dataDir = tempDir('ferry-load-running-');
  broker = await Broker.open({ dataDir, groups: { initialRebalanceDelayMs: 0 } });
  http = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  kafka = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  http?.close();
  await kafka?.close();
  await broker?.close();
  await closeSharedStoragePool();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe.concurrent('npm run load', { timeout: TEST_TIMEOUT_MS }, () => {
  it('kafka door: 2 producers, 2 consumers in one group, 2 partitions, open loop', async () => {
    const report = await runLoad(['--door', 'kafka', ...SMALL]);
    expect(report).toMatchObject({ door: 'kafka', partitions: 2, producers: 2, consumers: 2, rate: 500, acks: '1' });
    expectOwnBrokerUsage(report);
  });

  it('ws door, binary: 2 producers, 2 consumers in one group, 2 partitions, open loop', async () => {
    const report = await runLoad(['--door', 'ws', ...SMALL]);
    expect(report).toMatchObject({ door: 'ws', encoding: 'binary', partitions: 2, producers: 2, consumers: 2 });
    expectOwnBrokerUsage(report);
  });

  it('http door: 2 producers, 2 consumers splitting 2 partitions, open loop', async () => {
    const report = await runLoad(['--door', 'http', ...SMALL]);
    expect(report).toMatchObject({ door: 'http', partitions: 2, producers: 2, consumers: 2 });
    expectOwnBrokerUsage(report);
  });

  it('closed loop (--rate 0), ws door, json', async () => {
    const report = await runLoad(['--door', 'ws', '--encoding', 'json', '--rate', '0', '--inflight', '2', ...TINY]);
    expect(report).toMatchObject({ encoding: 'json', rate: 0, inflight: 2 });
    expectOwnBrokerUsage(report);
  });

  it('acks=all on a topic with flush.messages=1 (fsync before every acknowledgement), ws door', async () => {
    const report = await runLoad(['--door', 'ws', '--acks', 'all', '--flush-messages', '1', '--rate', '500', ...TINY]);
    expect(report).toMatchObject({ acks: 'all', flushMessages: 1 });
    expectOwnBrokerUsage(report);
  });

  it('against a running broker (--broker for the group, --http-url, the ws door derived from it): its CPU and loop lag from /metrics', async () => {
    const report = await runLoad(['--door', 'ws', '--broker', `127.0.0.1:${kafka.port}`, '--http-url', `http://127.0.0.1:${http.port}`, '--rate', '500', ...TINY]);
    expect(report.broker).toMatchObject({ started: false, pid: null, rssMaxMiB: null });
    for (const value of [report.broker.cpuCores, report.broker.rssEndMiB, report.broker.loopLagP99Ms]) expect(Number.isFinite(value)).toBe(true);
    expect(broker.listTopics().map((topic) => topic.name)).toContain(report.topic);
  });
});

describe('load options', () => {
  const parse = (...args: string[]): LoadOptions => parseOptions(args) as LoadOptions;
  const refusal = (...args: string[]): string => {
    try {
      parseOptions(args);
    } catch (error) {
      expect(error).toBeInstanceOf(LoadSetupError);
      return (error as Error).message;
    }
    throw new Error(`${args.join(' ')} was accepted`);
  };

  it('--help lists every option with its default', () => {
    expect(parseOptions(['--help'])).toBe('help');
    const text = usage();
    for (const option of ['--door', '--encoding', '--broker', '--http-url', '--ws-url', '--topic', '--partitions', '--record-bytes', '--batch', '--producers', '--consumers', '--acks', '--flush-messages', '--flush-ms', '--rate', '--inflight', '--duration', '--warmup', '--json']) {
      expect(text).toContain(option);
    }
    for (const fallback of ['(default kafka)', '(default binary)', '(default 100)', '(default 10)', '(default 4)']) expect(text).toContain(fallback);
  });

  it('defaults: kafka door, own broker, 1 producer, 1 consumer, closed loop', () => {
    expect(parse()).toMatchObject({ door: 'kafka', encoding: 'binary', running: null, partitions: 1, recordBytes: 100, batch: 100, producers: 1, consumers: 1, acks: '1', flushMessages: null, flushMs: null, rate: 0, inflight: 4, durationSeconds: 10, warmupSeconds: 1, json: false, topicOptionsGiven: false });
  });

  it('derives the doors of a running broker from what is given', () => {
    expect(parse('--broker', 'ferry.local:9092').running).toEqual({ kafka: 'ferry.local:9092', httpUrl: 'http://ferry.local:8080', wsUrl: 'ws://ferry.local:8080/ws' });
    expect(parse('--broker', '127.0.0.1:19092', '--http-url', 'http://127.0.0.1:18080/').running).toEqual({ kafka: '127.0.0.1:19092', httpUrl: 'http://127.0.0.1:18080', wsUrl: 'ws://127.0.0.1:18080/ws' });
    expect(parse('--ws-url', 'ws://box:8000/ws').running).toEqual({ kafka: 'box:9092', httpUrl: 'http://box:8000', wsUrl: 'ws://box:8000/ws' });
  });

  it('refuses what cannot run, naming the option', () => {
    expect(refusal('--door', 'http', '--acks', '0')).toContain('--acks 0');
    expect(refusal('--door', 'mqtt')).toContain('--door');
    expect(refusal('--encoding', 'json')).toContain('--encoding is for --door ws');
    expect(refusal('--record-bytes', '10')).toContain('--record-bytes must be an integer from 32');
    expect(refusal('--producers', '0')).toContain('--producers');
    expect(refusal('--broker', 'localhost')).toContain('--broker must be host:port');
    expect(refusal('--no-such-option')).toContain('no-such-option');
  });
});
