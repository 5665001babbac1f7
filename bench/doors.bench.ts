/**
 * The doors' benchmarks, run by bench/run.ts after the storage suites:
 *
 *   ws    WebSocket produce (JSON; binary frames of client-built batches, 1 KiB
 *         and 100 B values) and consume throughput; end-to-end latency at
 *         2,000 and the issue's 10,000 records/s, each run's broker CPU, RSS
 *         and event-loop lag (probe.ts)
 *   http  HTTP produce (Confluent REST v3, a JSON array of records per request)
 *
 * The broker and its server (startServer, uWebSockets.js) run in this
 * process; the load comes from a child process (bench/doors-load.ts), so the
 * client's CPU is not counted against the broker's event loop. The child
 * prints its result as one JSON line on stdout. Each measurement gets a fresh
 * broker in its own data directory and single-partition topics.
 *
 * Records are 100-byte values unless the name says 1KiB, no key; MB/s counts value bytes only
 * (decimal: 1 MB/s = 10^6 bytes/s). Figure names are stable identifiers
 * (test/bench/smoke.test.ts lists them). Nothing asserts on timing.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import type { Encoding } from '../src/client/index.js';
import { startServer } from '../src/protocol/server.js';
import type { LatencyRun, LoadJob, LoadResult } from './doors-load.js';
import { runLoadScript } from './load-child.js';
import { brokerUsageFigures, brokerUsageNames, probeBroker } from './probe.js';
import type { Figure, Suite, SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOAD_SCRIPT = path.join(BENCH_DIR, 'doors-load.ts');
const MB = 1e6;

const VALUE_BYTES = 100;
const BATCH_RECORDS = 500;
const WS_PRODUCE_INFLIGHT = 16;
const WS_PRODUCE_SECONDS = { full: 3, quick: 0.5 };
/** Binary produce: values as bytes, frames of about 1 MiB (one batch each, under Kafka's default max.message.bytes). */
const BINARY_PRODUCE_RUNS = [
  { name: 'ws produce binary 1KiB', valueBytes: 1024, batchRecords: 960, inflight: 8, targetMBps: 500 },
  { name: 'ws produce binary 100B', valueBytes: 100, batchRecords: 8_000, inflight: 8, targetRecordsPerSecond: 1_000_000 },
] as const;
const BINARY_PRODUCE_SECONDS = { full: 3, quick: 0.3 };
const CONSUME_RECORDS = { full: 500_000, quick: 50_000 };
const LATENCY_RATES = [2_000, 10_000] as const;
/** Per rate; the quick 10,000/s run is shorter (the smoke run's time budget), still 2,500 samples. */
const LATENCY_SECONDS: Record<(typeof LATENCY_RATES)[number], { full: number; quick: number }> = { 2_000: { full: 3, quick: 0.5 }, 10_000: { full: 3, quick: 0.25 } };
const LATENCY_WARMUP_SECONDS: Record<(typeof LATENCY_RATES)[number], { full: number; quick: number }> = { 2_000: { full: 1, quick: 0.25 }, 10_000: { full: 1, quick: 0.1 } };
/** The targets at 10,000 records/s, in ms. */
const LATENCY_TARGETS_MS: Partial<Record<LatencyStat, number>> = { p50: 1, p99: 5, 'p99.9': 10 };
const HTTP_INFLIGHT = 8;
const HTTP_SECONDS = { full: 2, quick: 0.5 };

const ENCODINGS: readonly Encoding[] = ['json', 'binary'];

const WS_PRODUCE = 'ws produce json 100B x500';
const wsConsume = (encoding: Encoding): string => `ws consume ${encoding} 100B`;
const WS_CONSUME_RUN = 'ws consume (pre-fill and every encoding)';
const LATENCY_STATS = ['p50', 'p99', 'p99.9', 'max'] as const;
type LatencyStat = (typeof LATENCY_STATS)[number];
/** 2,000/s keeps its first name (no rate in it), so earlier results still compare. */
const wsLatency = (encoding: Encoding, stat: LatencyStat, ratePerSecond: number = LATENCY_RATES[0]): string =>
  ratePerSecond === LATENCY_RATES[0] ? `ws e2e latency ${encoding} ${stat}` : `ws e2e latency ${encoding} ${ratePerSecond / 1000}k/s ${stat}`;
const wsLatencyRun = (encoding: Encoding): string => `ws e2e latency ${encoding}`;
const HTTP_PRODUCE = 'http produce STRING 100B x500';

const rate = (name: string): string => `${name} (MB/s)`;

interface Served {
  broker: Broker;
  wsUrl: string;
  httpUrl: string;
  stop(): Promise<void>;
}

async function serve(context: SuiteContext, label: string, topics: readonly string[]): Promise<Served> {
  const broker = await Broker.open({ dataDir: context.tempDir(label), autoCreateTopics: false });
  for (const topic of topics) await broker.createTopic(topic, { partitions: 1 });
  const server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  return {
    broker,
    wsUrl: `ws://127.0.0.1:${server.port}`,
    httpUrl: `http://127.0.0.1:${server.port}`,
    stop: async () => {
      server.close();
      await broker.close();
    },
  };
}

/** Runs bench/doors-load.ts with `job` in a child process; resolves with its result. */
async function runLoad<Mode extends LoadJob['mode']>(job: Extract<LoadJob, { mode: Mode }>): Promise<Extract<LoadResult, { mode: Mode }>> {
  const result = await runLoadScript<LoadResult>(LOAD_SCRIPT, job);
  if (result.mode !== job.mode) throw new Error(`doors-load ${job.mode} answered ${result.mode}`);
  return result as Extract<LoadResult, { mode: Mode }>;
}

function perSecond(units: number, ms: number): number {
  return units / (ms / 1000);
}

// --- ws -------------------------------------------------------------------------------

async function wsProduceFigures(context: SuiteContext): Promise<Figure[]> {
  const seconds = context.quick ? WS_PRODUCE_SECONDS.quick : WS_PRODUCE_SECONDS.full;
  context.progress(`  ${WS_PRODUCE}`);
  const served = await serve(context, 'ws-produce', ['produce']);
  try {
    const { result, usage } = await probeBroker(() =>
      runLoad<'ws-produce'>({
        mode: 'ws-produce',
        url: served.wsUrl,
        topic: 'produce',
        encoding: 'json',
        values: 'text',
        valueBytes: VALUE_BYTES,
        batchRecords: BATCH_RECORDS,
        inflight: WS_PRODUCE_INFLIGHT,
        seconds,
      }),
    );
    const note = `FerryClient over ws (child process), JSON, ${BATCH_RECORDS} x ${VALUE_BYTES} B values per produce, ${WS_PRODUCE_INFLIGHT} in flight, acks=1, 1 partition, ${(result.elapsedMs / 1000).toFixed(1)} s`;
    return [
      { name: WS_PRODUCE, value: perSecond(result.records, result.elapsedMs), unit: 'records/s', better: 'higher', note },
      { name: rate(WS_PRODUCE), value: perSecond(result.valueBytes, result.elapsedMs) / MB, unit: 'MB/s', better: 'higher', note: `${note}; value bytes only` },
      ...brokerUsageFigures(WS_PRODUCE, usage),
    ];
  } finally {
    await served.stop();
  }
}

async function binaryProduceFigures(context: SuiteContext, run: (typeof BINARY_PRODUCE_RUNS)[number]): Promise<Figure[]> {
  const seconds = context.quick ? BINARY_PRODUCE_SECONDS.quick : BINARY_PRODUCE_SECONDS.full;
  context.progress(`  ${run.name}`);
  const served = await serve(context, 'ws-produce-binary', ['produce']);
  try {
    const { result, usage } = await probeBroker(() =>
      runLoad<'ws-produce'>({ mode: 'ws-produce', url: served.wsUrl, topic: 'produce', encoding: 'binary', values: 'bytes', valueBytes: run.valueBytes, batchRecords: run.batchRecords, inflight: run.inflight, seconds }),
    );
    const note = `FerryClient over ws (child process), binary produce frames: ${run.batchRecords.toLocaleString('en-US')} x ${run.valueBytes} B values (Uint8Array) per produce built into one RecordBatch v2 by the client (CRC32C in JS), appended as sent; ${run.inflight} in flight, acks=1, 1 partition, ${(result.elapsedMs / 1000).toFixed(1)} s`;
    const recordsPerSecond = perSecond(result.records, result.elapsedMs);
    const mbPerSecond = perSecond(result.valueBytes, result.elapsedMs) / MB;
    const recordsTarget = 'targetRecordsPerSecond' in run ? { target: run.targetRecordsPerSecond } : {};
    const mbTarget = 'targetMBps' in run ? { target: run.targetMBps } : {};
    return [
      { name: run.name, value: recordsPerSecond, unit: 'records/s', better: 'higher', note, ...recordsTarget },
      { name: rate(run.name), value: mbPerSecond, unit: 'MB/s', better: 'higher', note: `${note}; value bytes only`, ...mbTarget },
      ...brokerUsageFigures(run.name, usage),
    ];
  } finally {
    await served.stop();
  }
}

async function wsConsumeFigures(context: SuiteContext, encodings: readonly Encoding[]): Promise<Figure[]> {
  const records = context.quick ? CONSUME_RECORDS.quick : CONSUME_RECORDS.full;
  context.progress(`  ws consume ${encodings.join(', ')} (pre-filling ${records.toLocaleString('en-US')} records)`);
  const served = await serve(context, 'ws-consume', ['consume']);
  try {
    const { result, usage } = await probeBroker(() =>
      runLoad<'ws-consume'>({
        mode: 'ws-consume',
        url: served.wsUrl,
        topic: 'consume',
        encodings: [...encodings],
        valueBytes: VALUE_BYTES,
        batchRecords: BATCH_RECORDS,
        inflight: WS_PRODUCE_INFLIGHT,
        records,
      }),
    );
    const consumed = result.runs.flatMap((run) => {
      const name = wsConsume(run.encoding);
      const note = `subscribe from earliest to the end of ${run.records.toLocaleString('en-US')} pre-filled ${VALUE_BYTES} B records (stored as ${BATCH_RECORDS}-record batches), 1 partition, default 1 MiB credit window, every value read as bytes, ${(run.elapsedMs / 1000).toFixed(2)} s`;
      return [
        { name, value: perSecond(run.records, run.elapsedMs), unit: 'records/s', better: 'higher', note } satisfies Figure,
        { name: rate(name), value: perSecond(run.valueBytes, run.elapsedMs) / MB, unit: 'MB/s', better: 'higher', note: `${note}; value bytes only` } satisfies Figure,
      ];
    });
    // One child pre-fills (JSON produce) and then consumes in each encoding: its usage covers all of it.
    return [...consumed, ...brokerUsageFigures(WS_CONSUME_RUN, usage)];
  } finally {
    await served.stop();
  }
}

/** Both rates in one child (one after the other, a topic each), so the smoke run pays one child start per encoding. */
async function wsLatencyFigures(context: SuiteContext, encoding: Encoding): Promise<Figure[]> {
  const profile = context.quick ? 'quick' : 'full';
  const rates = LATENCY_RATES.map((ratePerSecond) => ({ ratePerSecond, warmupSeconds: LATENCY_WARMUP_SECONDS[ratePerSecond][profile], seconds: LATENCY_SECONDS[ratePerSecond][profile] }));
  context.progress(`  ws e2e latency ${encoding} (${LATENCY_RATES.map((perSecond) => perSecond.toLocaleString('en-US')).join(' and ')} records/s)`);
  const served = await serve(context, `ws-latency-${encoding}`, LATENCY_RATES.map((perSecond) => `latency-${perSecond}`));
  try {
    const { result, usage } = await probeBroker(() =>
      runLoad<'ws-latency'>({ mode: 'ws-latency', url: served.wsUrl, topic: 'latency', encoding, valueBytes: VALUE_BYTES, rates }),
    );
    return [...result.runs.flatMap((run) => latencyRunFigures(encoding, run)), ...brokerUsageFigures(wsLatencyRun(encoding), usage)];
  } finally {
    await served.stop();
  }
}

function latencyRunFigures(encoding: Encoding, run: LatencyRun): Figure[] {
  const produce = encoding === 'binary' ? 'binary produce frame' : 'JSON produce request';
  const note = `FerryClient producer in a worker thread sleeping to each due time with Atomics.wait, open loop ${run.ratePerSecond.toLocaleString('en-US')} records/s for ${run.seconds} s after ${run.warmupSeconds} s unrecorded warm-up, 1 record (${VALUE_BYTES} B) per produce() call, the calls due at one wake-up merged into one ${produce}, acks=1; consumer (${encoding} pushes) on another socket of the same child, on its main thread, subscribed from latest first; due time to delivery, hdr-histogram, ${run.recorded.toLocaleString('en-US')} samples`;
  const values: Record<LatencyStat, number> = { p50: run.p50Ms, p99: run.p99Ms, 'p99.9': run.p999Ms, max: run.maxMs };
  return LATENCY_STATS.map((stat) => {
    const target = run.ratePerSecond === 10_000 ? LATENCY_TARGETS_MS[stat] : undefined;
    return { name: wsLatency(encoding, stat, run.ratePerSecond), value: values[stat], unit: 'ms', better: 'lower' as const, note, ...(target === undefined ? {} : { target }) };
  });
}

const WS_PRODUCE_FIGURES = [WS_PRODUCE, rate(WS_PRODUCE), ...brokerUsageNames(WS_PRODUCE)];
const binaryProduceNames = (run: (typeof BINARY_PRODUCE_RUNS)[number]): string[] => [run.name, rate(run.name), ...brokerUsageNames(run.name)];
const wsLatencyNames = (encoding: Encoding): string[] => [...LATENCY_RATES.flatMap((perSecond) => LATENCY_STATS.map((stat) => wsLatency(encoding, stat, perSecond))), ...brokerUsageNames(wsLatencyRun(encoding))];

const WS_FIGURES = [
  ...WS_PRODUCE_FIGURES,
  ...BINARY_PRODUCE_RUNS.flatMap(binaryProduceNames),
  ...ENCODINGS.flatMap((encoding) => [wsConsume(encoding), rate(wsConsume(encoding))]),
  ...brokerUsageNames(WS_CONSUME_RUN),
  ...ENCODINGS.flatMap(wsLatencyNames),
];

const wsSuite: Suite = {
  name: 'ws',
  figureNames: WS_FIGURES,
  async run(context) {
    const figures: Figure[] = [];
    if (WS_PRODUCE_FIGURES.some((name) => context.wants(name))) figures.push(...(await wsProduceFigures(context)));
    for (const run of BINARY_PRODUCE_RUNS) {
      if (binaryProduceNames(run).some((name) => context.wants(name))) figures.push(...(await binaryProduceFigures(context, run)));
    }
    const consumeEncodings = ENCODINGS.filter((encoding) => context.wants(wsConsume(encoding)) || context.wants(rate(wsConsume(encoding))));
    if (consumeEncodings.length > 0) figures.push(...(await wsConsumeFigures(context, consumeEncodings)));
    for (const encoding of ENCODINGS) {
      if (wsLatencyNames(encoding).some((name) => context.wants(name))) figures.push(...(await wsLatencyFigures(context, encoding)));
    }
    return figures;
  },
};

// --- http -----------------------------------------------------------------------------

const httpSuite: Suite = {
  name: 'http',
  figureNames: [HTTP_PRODUCE, ...brokerUsageNames(HTTP_PRODUCE)],
  async run(context) {
    const seconds = context.quick ? HTTP_SECONDS.quick : HTTP_SECONDS.full;
    context.progress(`  ${HTTP_PRODUCE}`);
    const served = await serve(context, 'http-produce', ['produce']);
    try {
      const { result, usage } = await probeBroker(() =>
        runLoad<'http-produce'>({
          mode: 'http-produce',
          baseUrl: served.httpUrl,
          clusterId: served.broker.clusterId,
          topic: 'produce',
          valueBytes: VALUE_BYTES,
          batchRecords: BATCH_RECORDS,
          inflight: HTTP_INFLIGHT,
          seconds,
        }),
      );
      const note = `POST .../topics/{t}/records, JSON array of ${BATCH_RECORDS} STRING values of ${VALUE_BYTES} B, ${HTTP_INFLIGHT} requests in flight (Node fetch, child process), 1 partition, ${result.requests.toLocaleString('en-US')} requests in ${(result.elapsedMs / 1000).toFixed(1)} s`;
      return [{ name: HTTP_PRODUCE, value: perSecond(result.records, result.elapsedMs), unit: 'records/s', better: 'higher', note }, ...brokerUsageFigures(HTTP_PRODUCE, usage)];
    } finally {
      await served.stop();
    }
  },
};

export const DOOR_SUITES: readonly Suite[] = [wsSuite, httpSuite];
