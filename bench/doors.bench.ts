/**
 * The doors' benchmarks, run by bench/run.ts after the storage suites:
 *
 *   ws    WebSocket produce and consume throughput; end-to-end latency at a fixed rate
 *   http  HTTP produce (Confluent REST v3, a JSON array of records per request)
 *
 * The broker and its server (startServer, uWebSockets.js) run in this
 * process; the load comes from a child process (bench/doors-load.ts), so the
 * client's CPU is not counted against the broker's event loop. The child
 * prints its result as one JSON line on stdout. Each measurement gets a fresh
 * broker in its own data directory and single-partition topics.
 *
 * Records are 100-byte values, no key; MB/s counts value bytes only
 * (decimal: 1 MB/s = 10^6 bytes/s). Figure names are stable identifiers
 * (test/bench/smoke.test.ts lists them). Nothing asserts on timing.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import type { Encoding } from '../src/client/index.js';
import { startServer } from '../src/protocol/server.js';
import type { LoadJob, LoadResult } from './doors-load.js';
import { runLoadScript } from './load-child.js';
import type { Figure, Suite, SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOAD_SCRIPT = path.join(BENCH_DIR, 'doors-load.ts');
const MB = 1e6;

const VALUE_BYTES = 100;
const BATCH_RECORDS = 500;
const WS_PRODUCE_INFLIGHT = 16;
const WS_PRODUCE_SECONDS = { full: 3, quick: 0.5 };
const CONSUME_RECORDS = { full: 500_000, quick: 50_000 };
const LATENCY_RATE = 2_000;
const LATENCY_SECONDS = { full: 3, quick: 0.5 };
const LATENCY_WARMUP_SECONDS = { full: 1, quick: 0.25 };
const HTTP_INFLIGHT = 8;
const HTTP_SECONDS = { full: 2, quick: 0.5 };

const ENCODINGS: readonly Encoding[] = ['json', 'binary'];

const WS_PRODUCE = 'ws produce json 100B x500';
const wsConsume = (encoding: Encoding): string => `ws consume ${encoding} 100B`;
const LATENCY_STATS = ['p50', 'p99', 'p99.9', 'max'] as const;
const wsLatency = (encoding: Encoding, stat: (typeof LATENCY_STATS)[number]): string => `ws e2e latency ${encoding} ${stat}`;
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
    const result = await runLoad<'ws-produce'>({
      mode: 'ws-produce',
      url: served.wsUrl,
      topic: 'produce',
      encoding: 'json',
      valueBytes: VALUE_BYTES,
      batchRecords: BATCH_RECORDS,
      inflight: WS_PRODUCE_INFLIGHT,
      seconds,
    });
    const note = `FerryClient over ws (child process), JSON, ${BATCH_RECORDS} x ${VALUE_BYTES} B values per produce, ${WS_PRODUCE_INFLIGHT} in flight, acks=1, 1 partition, ${(result.elapsedMs / 1000).toFixed(1)} s`;
    return [
      { name: WS_PRODUCE, value: perSecond(result.records, result.elapsedMs), unit: 'records/s', better: 'higher', note },
      { name: rate(WS_PRODUCE), value: perSecond(result.valueBytes, result.elapsedMs) / MB, unit: 'MB/s', better: 'higher', note: `${note}; value bytes only` },
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
    const result = await runLoad<'ws-consume'>({
      mode: 'ws-consume',
      url: served.wsUrl,
      topic: 'consume',
      encodings: [...encodings],
      valueBytes: VALUE_BYTES,
      batchRecords: BATCH_RECORDS,
      inflight: WS_PRODUCE_INFLIGHT,
      records,
    });
    return result.runs.flatMap((run) => {
      const name = wsConsume(run.encoding);
      const note = `subscribe from earliest to the end of ${run.records.toLocaleString('en-US')} pre-filled ${VALUE_BYTES} B records (stored as ${BATCH_RECORDS}-record batches), 1 partition, default 1 MiB credit window, every value read as bytes, ${(run.elapsedMs / 1000).toFixed(2)} s`;
      return [
        { name, value: perSecond(run.records, run.elapsedMs), unit: 'records/s', better: 'higher', note } satisfies Figure,
        { name: rate(name), value: perSecond(run.valueBytes, run.elapsedMs) / MB, unit: 'MB/s', better: 'higher', note: `${note}; value bytes only` } satisfies Figure,
      ];
    });
  } finally {
    await served.stop();
  }
}

async function wsLatencyFigures(context: SuiteContext, encoding: Encoding): Promise<Figure[]> {
  const seconds = context.quick ? LATENCY_SECONDS.quick : LATENCY_SECONDS.full;
  const warmupSeconds = context.quick ? LATENCY_WARMUP_SECONDS.quick : LATENCY_WARMUP_SECONDS.full;
  context.progress(`  ws e2e latency ${encoding}`);
  const served = await serve(context, `ws-latency-${encoding}`, ['latency']);
  try {
    const result = await runLoad<'ws-latency'>({ mode: 'ws-latency', url: served.wsUrl, topic: 'latency', encoding, valueBytes: VALUE_BYTES, ratePerSecond: LATENCY_RATE, warmupSeconds, seconds });
    const note = `open loop ${LATENCY_RATE.toLocaleString('en-US')} records/s for ${seconds} s after ${warmupSeconds} s unrecorded warm-up, 1 record (${VALUE_BYTES} B) per produce, acks=1; consumer on another socket of the same child, subscribed from latest first; due time to delivery, hdr-histogram, ${result.recorded.toLocaleString('en-US')} samples`;
    const values = { p50: result.p50Ms, p99: result.p99Ms, 'p99.9': result.p999Ms, max: result.maxMs };
    return LATENCY_STATS.map((stat) => ({ name: wsLatency(encoding, stat), value: values[stat], unit: 'ms', better: 'lower', note }));
  } finally {
    await served.stop();
  }
}

const WS_FIGURES = [
  WS_PRODUCE,
  rate(WS_PRODUCE),
  ...ENCODINGS.flatMap((encoding) => [wsConsume(encoding), rate(wsConsume(encoding))]),
  ...ENCODINGS.flatMap((encoding) => LATENCY_STATS.map((stat) => wsLatency(encoding, stat))),
];

const wsSuite: Suite = {
  name: 'ws',
  figureNames: WS_FIGURES,
  async run(context) {
    const figures: Figure[] = [];
    if (context.wants(WS_PRODUCE) || context.wants(rate(WS_PRODUCE))) figures.push(...(await wsProduceFigures(context)));
    const consumeEncodings = ENCODINGS.filter((encoding) => context.wants(wsConsume(encoding)) || context.wants(rate(wsConsume(encoding))));
    if (consumeEncodings.length > 0) figures.push(...(await wsConsumeFigures(context, consumeEncodings)));
    for (const encoding of ENCODINGS) {
      if (LATENCY_STATS.some((stat) => context.wants(wsLatency(encoding, stat)))) figures.push(...(await wsLatencyFigures(context, encoding)));
    }
    return figures;
  },
};

// --- http -----------------------------------------------------------------------------

const httpSuite: Suite = {
  name: 'http',
  figureNames: [HTTP_PRODUCE],
  async run(context) {
    const seconds = context.quick ? HTTP_SECONDS.quick : HTTP_SECONDS.full;
    context.progress(`  ${HTTP_PRODUCE}`);
    const served = await serve(context, 'http-produce', ['produce']);
    try {
      const result = await runLoad<'http-produce'>({
        mode: 'http-produce',
        baseUrl: served.httpUrl,
        clusterId: served.broker.clusterId,
        topic: 'produce',
        valueBytes: VALUE_BYTES,
        batchRecords: BATCH_RECORDS,
        inflight: HTTP_INFLIGHT,
        seconds,
      });
      const note = `POST .../topics/{t}/records, JSON array of ${BATCH_RECORDS} STRING values of ${VALUE_BYTES} B, ${HTTP_INFLIGHT} requests in flight (Node fetch, child process), 1 partition, ${result.requests.toLocaleString('en-US')} requests in ${(result.elapsedMs / 1000).toFixed(1)} s`;
      return [{ name: HTTP_PRODUCE, value: perSecond(result.records, result.elapsedMs), unit: 'records/s', better: 'higher', note }];
    } finally {
      await served.stop();
    }
  },
};

export const DOOR_SUITES: readonly Suite[] = [wsSuite, httpSuite];
