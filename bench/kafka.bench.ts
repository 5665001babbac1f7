/**
 * The Kafka door's benchmarks, run by bench/run.ts after the other doors:
 *
 *   kcat     librdkafka's producer (-P from a file of 1 KiB lines) and
 *            consumer (-C from the beginning to the end): the C-client view
 *   kafkajs  kafkajs producer (batches of 1 KiB values, several in flight)
 *            and consumer (from the beginning), in a child process
 *   e2e      end-to-end latency at a fixed rate (2,000 records/s, as the
 *            WebSocket figure, and the 10,000): a raw client on
 *            Ferry's codec in a child process (bench/kafka-latency-load.ts),
 *            one 100 B record per Produce (acks=1) on an open-loop schedule,
 *            a long-polling Fetch consumer on another socket; due time to
 *            delivery
 *   raw      the broker's ingest and catch-up read without a client library
 *            (bench/kafka-raw-load.ts): pre-encoded Produce v9 frames of one
 *            batch each (1 KiB x 1000, 100 B x 8,000: about 1 MiB, within
 *            max.message.bytes), several in flight on
 *            two connections, acks=1; and a Fetch v12 consumer reading a log
 *            written beforehand through the storage API (so in page cache)
 *            from offset 0 to its end with max_bytes RAW_FETCH_BYTES
 *
 * The broker and its Kafka listener run in this process, each measurement on
 * a fresh broker with a single-partition topic; clients are separate
 * processes. Records are 1 KiB values (1023 bytes for kcat, whose line ends
 * count as separators), no key; MB/s counts value bytes (1 MB = 10^6 bytes).
 * kcat figures include its start-up (a few ms against seconds of work).
 * Nothing asserts on timing.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import { startKafkaServer } from '../src/protocol/kafka/server.js';
import { buildBatch } from '../src/storage/batch-builder.js';
import type { KafkaLatencyJob, KafkaLatencyResult } from './kafka-latency-load.js';
import type { KafkaRawJob, KafkaRawResult } from './kafka-raw-load.js';
import { brokerUsageFigures, brokerUsageNames, probeBroker } from './probe.js';
import { CHILD_TIMEOUT_MS, runLoadScript } from './load-child.js';
import type { KafkaLoadJob, KafkaLoadResult } from './kafka-load.js';
import type { Figure, Suite, SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const LOAD_SCRIPT = path.join(BENCH_DIR, 'kafka-load.ts');
const LATENCY_SCRIPT = path.join(BENCH_DIR, 'kafka-latency-load.ts');
const RAW_SCRIPT = path.join(BENCH_DIR, 'kafka-raw-load.ts');
const MB = 1e6;

const KCAT_VALUE_BYTES = 1023;
const KCAT_RECORDS = { full: 300_000, quick: 20_000 };
const KAFKAJS_VALUE_BYTES = 1024;
const KAFKAJS_BATCH_RECORDS = 1000;
const KAFKAJS_INFLIGHT = 4;
const KAFKAJS_PRODUCE_SECONDS = { full: 4, quick: 0.5 };
const LATENCY_VALUE_BYTES = 100;
const LATENCY_RATES = [2_000, 10_000] as const;
const LATENCY_SECONDS = { full: 3, quick: 0.25 };
const LATENCY_WARMUP_SECONDS = { full: 1, quick: 0.1 };
const LATENCY_FETCH_MAX_WAIT_MS = 500;
const LATENCY_STATS = ['p50', 'p99', 'p99.9', 'max'] as const;
type LatencyStat = (typeof LATENCY_STATS)[number];
/** The targets at 10,000 records/s, in ms. */
const LATENCY_TARGETS_MS: Partial<Record<LatencyStat, number>> = { p50: 1, p99: 5, 'p99.9': 10 };

/** Raw produce: batch shapes (about 1 MiB each), connections and requests in flight per connection. */
const RAW_PRODUCE_SHAPES = [
  { name: 'kafka produce raw 1KiB', valueBytes: 1024, batchRecords: 1000, targetRecords: undefined, targetMBs: 500 },
  { name: 'kafka produce raw 100B', valueBytes: 100, batchRecords: 8_000, targetRecords: 1_000_000, targetMBs: undefined },
] as const;
const RAW_CONNECTIONS = 2;
const RAW_INFLIGHT = 4;
const RAW_PRODUCE_SECONDS = { full: 3, quick: 0.2 };
const RAW_PRODUCE_WARMUP_SECONDS = { full: 1, quick: 0.1 };
/** Catch-up: log size per profile, the batches it is written in, and the consumer's max_bytes (also its partition_max_bytes). */
const CATCH_UP_BYTES = { full: 1024 * 1024 * 1024, default: 256 * 1024 * 1024, quick: 8 * 1024 * 1024 } as const;
const CATCH_UP_BATCH_RECORDS = 1000;
const CATCH_UP_VALUE_BYTES = 1024;
const RAW_FETCH_BYTES = 32 * 1024 * 1024;
const CATCH_UP = 'kafka catch-up read';
const CATCH_UP_TARGET_MBS = 1000;

const KCAT_PRODUCE = 'kafka produce kcat 1KiB';
const KCAT_CONSUME = 'kafka consume kcat 1KiB';
const KAFKAJS_PRODUCE = 'kafka produce kafkajs 1KiB x1000';
const KAFKAJS_CONSUME = 'kafka consume kafkajs 1KiB';
const rate = (name: string): string => `${name} (MB/s)`;
const latencyRun = (ratePerSecond: number): string => `kafka e2e latency ${ratePerSecond / 1000}k/s`;
const latency = (ratePerSecond: number, stat: LatencyStat): string => `${latencyRun(ratePerSecond)} ${stat}`;

interface Served {
  broker: Broker;
  bootstrap: string;
  stop(): Promise<void>;
}

async function serve(context: SuiteContext, label: string): Promise<Served> {
  const broker = await Broker.open({ dataDir: context.tempDir(label), autoCreateTopics: false, groups: { initialRebalanceDelayMs: 0 } });
  await broker.createTopic('bench', { partitions: 1 });
  const server = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
  return {
    broker,
    bootstrap: `127.0.0.1:${server.port}`,
    stop: async () => {
      await server.close();
      await broker.close();
    },
  };
}

/** Runs kcat to completion; resolves with its stdout and wall time (the figure: kcat's own run, start-up included). */
function runProcess(command: string, args: readonly string[]): Promise<{ stdout: string; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const elapsedMs = performance.now() - started;
      if (code !== 0) reject(new Error(`${command} exited ${code ?? signal}: ${stderr.slice(-500)}`));
      else resolve({ stdout, elapsedMs });
    });
  });
}

async function runKafkajs<Mode extends KafkaLoadJob['mode']>(job: Extract<KafkaLoadJob, { mode: Mode }>): Promise<Extract<KafkaLoadResult, { mode: Mode }>> {
  const result = await runLoadScript<KafkaLoadResult>(LOAD_SCRIPT, job);
  if (result.mode !== job.mode) throw new Error(`kafka-load answered ${result.mode}`);
  return result as Extract<KafkaLoadResult, { mode: Mode }>;
}

function throughput(name: string, records: number, valueBytes: number, elapsedMs: number, note: string): Figure[] {
  return [
    { name, value: records / (elapsedMs / 1000), unit: 'records/s', better: 'higher', note },
    { name: rate(name), value: valueBytes / MB / (elapsedMs / 1000), unit: 'MB/s', better: 'higher', note: `${note}; value bytes only` },
  ];
}

async function kcatFigures(context: SuiteContext): Promise<Figure[]> {
  const records = context.quick ? KCAT_RECORDS.quick : KCAT_RECORDS.full;
  context.progress(`  kcat produce and consume ${records.toLocaleString('en-US')} x 1 KiB`);
  const served = await serve(context, 'kcat');
  const input = path.join(context.tempDir('kcat-input'), 'lines.txt');
  const line = `${'x'.repeat(KCAT_VALUE_BYTES)}\n`;
  fs.writeFileSync(input, line.repeat(records));
  try {
    const { result: produced, usage: produceUsage } = await probeBroker(() => runProcess('kcat', ['-P', '-b', served.bootstrap, '-t', 'bench', '-p', '0', '-l', '-X', 'acks=1', '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', input]));
    const stored = served.broker.log('bench', 0).logEndOffset;
    if (stored !== records) throw new Error(`kcat produced ${stored} of ${records} records`);
    const { result: consumed, usage: consumeUsage } = await probeBroker(() => runProcess('kcat', ['-C', '-b', served.bootstrap, '-t', 'bench', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o\n']));
    const seen = consumed.stdout.split('\n').length - 1;
    if (seen !== records) throw new Error(`kcat consumed ${seen} of ${records} records`);
    const produceNote = `kcat -P -l (librdkafka ${'2.x'}, linger.ms=5, batch.num.messages=10000, acks=1), ${records.toLocaleString('en-US')} lines of ${KCAT_VALUE_BYTES} B, 1 partition, ${(produced.elapsedMs / 1000).toFixed(2)} s incl. start-up`;
    const consumeNote = `kcat -C -o beginning -e (default fetch sizes), ${records.toLocaleString('en-US')} records of ${KCAT_VALUE_BYTES} B, 1 partition, ${(consumed.elapsedMs / 1000).toFixed(2)} s incl. start-up`;
    return [
      ...throughput(KCAT_PRODUCE, records, records * KCAT_VALUE_BYTES, produced.elapsedMs, produceNote),
      ...throughput(KCAT_CONSUME, records, records * KCAT_VALUE_BYTES, consumed.elapsedMs, consumeNote),
      ...brokerUsageFigures(KCAT_PRODUCE, produceUsage),
      ...brokerUsageFigures(KCAT_CONSUME, consumeUsage),
    ];
  } finally {
    await served.stop();
  }
}

async function kafkajsFigures(context: SuiteContext): Promise<Figure[]> {
  const seconds = context.quick ? KAFKAJS_PRODUCE_SECONDS.quick : KAFKAJS_PRODUCE_SECONDS.full;
  context.progress(`  kafkajs produce ${seconds} s, then consume what was produced`);
  const served = await serve(context, 'kafkajs');
  try {
    const { result: produced, usage: produceUsage } = await probeBroker(() => runKafkajs<'kafkajs-produce'>({
      mode: 'kafkajs-produce',
      bootstrap: served.bootstrap,
      topic: 'bench',
      valueBytes: KAFKAJS_VALUE_BYTES,
      batchRecords: KAFKAJS_BATCH_RECORDS,
      inflight: KAFKAJS_INFLIGHT,
      seconds,
    }));
    const { result: consumed, usage: consumeUsage } = await probeBroker(() => runKafkajs<'kafkajs-consume'>({ mode: 'kafkajs-consume', bootstrap: served.bootstrap, topic: 'bench', records: produced.records }));
    const produceNote = `kafkajs 2.2.4 producer.send of ${KAFKAJS_BATCH_RECORDS} x ${KAFKAJS_VALUE_BYTES} B values, ${KAFKAJS_INFLIGHT} in flight, acks=1, no compression, 1 partition, child process, ${(produced.elapsedMs / 1000).toFixed(1)} s`;
    const consumeNote = `kafkajs 2.2.4 consumer eachBatch from the beginning, ${consumed.records.toLocaleString('en-US')} records, maxBytes 50 MiB, child process, first batch to last, ${(consumed.elapsedMs / 1000).toFixed(2)} s`;
    return [
      ...throughput(KAFKAJS_PRODUCE, produced.records, produced.valueBytes, produced.elapsedMs, produceNote),
      ...throughput(KAFKAJS_CONSUME, consumed.records, consumed.valueBytes, consumed.elapsedMs, consumeNote),
      ...brokerUsageFigures(KAFKAJS_PRODUCE, produceUsage),
      ...brokerUsageFigures(KAFKAJS_CONSUME, consumeUsage),
    ];
  } finally {
    await served.stop();
  }
}

async function latencyFigures(context: SuiteContext, ratePerSecond: number): Promise<Figure[]> {
  const seconds = context.quick ? LATENCY_SECONDS.quick : LATENCY_SECONDS.full;
  const warmupSeconds = context.quick ? LATENCY_WARMUP_SECONDS.quick : LATENCY_WARMUP_SECONDS.full;
  context.progress(`  kafka e2e latency ${ratePerSecond.toLocaleString('en-US')} records/s`);
  const served = await serve(context, `latency-${ratePerSecond}`);
  try {
    const job: KafkaLatencyJob = { port: Number(served.bootstrap.split(':')[1]), topic: 'bench', valueBytes: LATENCY_VALUE_BYTES, ratePerSecond, warmupSeconds, seconds, fetchMaxWaitMs: LATENCY_FETCH_MAX_WAIT_MS };
    const { result, usage } = await probeBroker(() => runLoadScript<KafkaLatencyResult>(LATENCY_SCRIPT, job));
    const note = `raw client on Ferry's codec (sender in a worker thread sleeping to each due time with Atomics.wait), open loop ${ratePerSecond.toLocaleString('en-US')} records/s for ${seconds} s after ${warmupSeconds} s unrecorded warm-up, 1 record (${LATENCY_VALUE_BYTES} B) per Produce v9, acks=1; consumer on another socket of the same child, Fetch v12 long poll (max_wait_ms ${LATENCY_FETCH_MAX_WAIT_MS}, min_bytes 1) from the log end; due time to delivery, hdr-histogram, ${result.recorded.toLocaleString('en-US')} samples`;
    const values: Record<LatencyStat, number> = { p50: result.p50Ms, p99: result.p99Ms, 'p99.9': result.p999Ms, max: result.maxMs };
    const figures: Figure[] = LATENCY_STATS.map((stat) => {
      const target = ratePerSecond === 10_000 ? LATENCY_TARGETS_MS[stat] : undefined;
      return { name: latency(ratePerSecond, stat), value: values[stat], unit: 'ms', better: 'lower' as const, note, ...(target === undefined ? {} : { target }) };
    });
    return [...figures, ...brokerUsageFigures(latencyRun(ratePerSecond), usage)];
  } finally {
    await served.stop();
  }
}

async function rawProduceFigures(context: SuiteContext, shape: (typeof RAW_PRODUCE_SHAPES)[number]): Promise<Figure[]> {
  const seconds = context.quick ? RAW_PRODUCE_SECONDS.quick : RAW_PRODUCE_SECONDS.full;
  const warmupSeconds = context.quick ? RAW_PRODUCE_WARMUP_SECONDS.quick : RAW_PRODUCE_WARMUP_SECONDS.full;
  context.progress(`  ${shape.name}: ${seconds} s after ${warmupSeconds} s warm-up`);
  const served = await serve(context, `raw-${shape.valueBytes}`);
  try {
    const job: KafkaRawJob = {
      mode: 'produce',
      port: Number(served.bootstrap.split(':')[1]),
      topic: 'bench',
      valueBytes: shape.valueBytes,
      batchRecords: shape.batchRecords,
      connections: RAW_CONNECTIONS,
      inflight: RAW_INFLIGHT,
      warmupSeconds,
      seconds,
    };
    const { result, usage } = await probeBroker(() => runLoadScript<KafkaRawResult>(RAW_SCRIPT, job));
    if (result.mode !== 'produce') throw new Error(`kafka-raw-load answered ${result.mode}`);
    const note = `raw client (pre-encoded Produce v9, one batch of ${shape.batchRecords.toLocaleString('en-US')} x ${shape.valueBytes} B values per request, ${result.batchBytes.toLocaleString('en-US')} B), ${RAW_CONNECTIONS} connections x ${RAW_INFLIGHT} in flight, acks=1, 1 partition, child process (${result.clientCpuCores.toFixed(2)} cores), ${(result.elapsedMs / 1000).toFixed(2)} s after ${warmupSeconds} s warm-up`;
    const [records, megabytes] = throughput(shape.name, result.records, result.records * shape.valueBytes, result.elapsedMs, note);
    return [
      { ...records!, ...(shape.targetRecords === undefined ? {} : { target: shape.targetRecords }) },
      { ...megabytes!, ...(shape.targetMBs === undefined ? {} : { target: shape.targetMBs }) },
      ...brokerUsageFigures(shape.name, usage),
    ];
  } finally {
    await served.stop();
  }
}

/** Writes `bytes` of 1 KiB records through the storage API in big batches (so the log is in page cache); returns the log end offset. */
async function fillLog(broker: Broker, bytes: number): Promise<number> {
  const value = Buffer.alloc(CATCH_UP_VALUE_BYTES, 'c');
  const timestamp = BigInt(Date.now());
  const template = buildBatch(Array.from({ length: CATCH_UP_BATCH_RECORDS }, () => ({ value, timestamp })));
  for (let written = 0; written < bytes; written += template.length) {
    // The append stamps offsets into the buffer it is given: a fresh copy each time.
    await broker.produceBatches('bench', 0, Buffer.from(template));
  }
  return broker.log('bench', 0).logEndOffset;
}

async function catchUpFigures(context: SuiteContext): Promise<Figure[]> {
  const bytes = CATCH_UP_BYTES[context.profile];
  const size = `${bytes / (1024 * 1024)} MiB`;
  context.progress(`  ${CATCH_UP}: ${size} log from offset 0`);
  const served = await serve(context, 'catch-up');
  try {
    const endOffset = await fillLog(served.broker, bytes);
    const job: KafkaRawJob = { mode: 'catch-up', port: Number(served.bootstrap.split(':')[1]), topic: 'bench', endOffset, maxBytes: RAW_FETCH_BYTES };
    const { result, usage } = await probeBroker(() => runLoadScript<KafkaRawResult>(RAW_SCRIPT, job));
    if (result.mode !== 'catch-up') throw new Error(`kafka-raw-load answered ${result.mode}`);
    if (result.records !== endOffset) throw new Error(`catch-up read ${result.records} of ${endOffset} records`);
    const note = `${size} log (${endOffset.toLocaleString('en-US')} records of ${CATCH_UP_VALUE_BYTES} B in batches of ${CATCH_UP_BATCH_RECORDS}) written through the storage API just before (page cache), raw Fetch v12 client in a child process (${result.clientCpuCores.toFixed(2)} cores), one fetch at a time, max_bytes ${RAW_FETCH_BYTES / (1024 * 1024)} MiB, ${result.fetches} fetches, record-set bytes counted, ${(result.elapsedMs / 1000).toFixed(2)} s`;
    return [{ name: CATCH_UP, value: result.bytes / MB / (result.elapsedMs / 1000), unit: 'MB/s', better: 'higher', target: CATCH_UP_TARGET_MBS, note }, ...brokerUsageFigures(CATCH_UP, usage)];
  } finally {
    await served.stop();
  }
}

const RAW_PRODUCE_FIGURES = (shape: (typeof RAW_PRODUCE_SHAPES)[number]): string[] => [shape.name, rate(shape.name), ...brokerUsageNames(shape.name)];
const CATCH_UP_FIGURES = [CATCH_UP, ...brokerUsageNames(CATCH_UP)];
const KCAT_FIGURES = [KCAT_PRODUCE, rate(KCAT_PRODUCE), KCAT_CONSUME, rate(KCAT_CONSUME), ...brokerUsageNames(KCAT_PRODUCE), ...brokerUsageNames(KCAT_CONSUME)];
const KAFKAJS_FIGURES = [KAFKAJS_PRODUCE, rate(KAFKAJS_PRODUCE), KAFKAJS_CONSUME, rate(KAFKAJS_CONSUME), ...brokerUsageNames(KAFKAJS_PRODUCE), ...brokerUsageNames(KAFKAJS_CONSUME)];

export const KAFKA_SUITES: readonly Suite[] = [
  {
    name: 'kafka',
    figureNames: [
      ...KCAT_FIGURES,
      ...KAFKAJS_FIGURES,
      ...LATENCY_RATES.flatMap((perSecond) => [...LATENCY_STATS.map((stat) => latency(perSecond, stat)), ...brokerUsageNames(latencyRun(perSecond))]),
      ...RAW_PRODUCE_SHAPES.flatMap(RAW_PRODUCE_FIGURES),
      ...CATCH_UP_FIGURES,
    ],
    async run(context) {
      const figures: Figure[] = [];
      if (KCAT_FIGURES.some((name) => context.wants(name))) figures.push(...(await kcatFigures(context)));
      if (KAFKAJS_FIGURES.some((name) => context.wants(name))) figures.push(...(await kafkajsFigures(context)));
      for (const perSecond of LATENCY_RATES) {
        if (LATENCY_STATS.some((stat) => context.wants(latency(perSecond, stat)))) figures.push(...(await latencyFigures(context, perSecond)));
      }
      for (const shape of RAW_PRODUCE_SHAPES) {
        if (RAW_PRODUCE_FIGURES(shape).some((name) => context.wants(name))) figures.push(...(await rawProduceFigures(context, shape)));
      }
      if (CATCH_UP_FIGURES.some((name) => context.wants(name))) figures.push(...(await catchUpFigures(context)));
      return figures;
    },
  },
];
