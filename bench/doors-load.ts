/**
 * The load generator of bench/doors.bench.ts, run as a child process so its
 * CPU (encoding requests, decoding pushes) is not counted against the
 * broker's event loop in the parent:
 *
 *   node --import tsx bench/doors-load.ts '<LoadJob as JSON>'
 *
 * It prints its result as one JSON line on stdout (a LoadResult) and exits;
 * progress and errors go to stderr. Nothing here asserts on timing.
 *
 * 'ws-latency' produces from a worker thread that sleeps to each record's due
 * time (paced-sender.ts: Node's timers would send each up to 1 ms late, and
 * that lateness would be in every figure), one produce() call per record,
 * sent at once; the subscription stays on the main thread, whose event loop
 * never sleeps on the sender's behalf. Both stamp CLOCK_MONOTONIC.
 */

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { FerryClient, type ConsumedRecord, type Encoding, type ProduceInput, type Subscription, type WebSocketConstructor } from '../src/client/index.js';
import { LatencyRecorder, stampDueTime } from './open-loop.js';
import { monotonicMs, SenderThread, sendPaced, serveSenderThread } from './paced-sender.js';

const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;

export type LoadJob =
  /** values: 'text' (strings, as a JSON client sends them) or 'bytes' (Uint8Array, as a binary client holds them). Produce goes as `encoding` (FerryClient's default). */
  | { mode: 'ws-produce'; url: string; topic: string; encoding: Encoding; values: 'text' | 'bytes'; valueBytes: number; batchRecords: number; inflight: number; seconds: number }
  | { mode: 'ws-consume'; url: string; topic: string; encodings: Encoding[]; valueBytes: number; batchRecords: number; inflight: number; records: number }
  /** One run per rate, one after the other, each on its own topic (`${topic}-${rate}`, created by the caller). */
  | { mode: 'ws-latency'; url: string; topic: string; encoding: Encoding; valueBytes: number; rates: LatencyRate[] }
  | { mode: 'http-produce'; baseUrl: string; clusterId: string; topic: string; valueBytes: number; batchRecords: number; inflight: number; seconds: number };

export type LoadResult =
  | { mode: 'ws-produce'; records: number; valueBytes: number; elapsedMs: number }
  | { mode: 'ws-consume'; prefillMs: number; runs: Array<{ encoding: Encoding; records: number; valueBytes: number; elapsedMs: number }> }
  | { mode: 'ws-latency'; runs: LatencyRun[] }
  | { mode: 'http-produce'; records: number; requests: number; elapsedMs: number };

export interface LatencyRate {
  ratePerSecond: number;
  /** Sent at the rate, delivered, not recorded: JIT and socket warm-up. */
  warmupSeconds: number;
  seconds: number;
}

export interface LatencyRun extends LatencyRate {
  sent: number;
  received: number;
  recorded: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  elapsedMs: number;
}

const WAIT_MS = 60_000;

/** What the 'ws-latency' sender thread is given, and what it reports once every record is answered. */
interface LatencySenderJob {
  url: string;
  topic: string;
  encoding: Encoding;
  valueBytes: number;
  ratePerSecond: number;
  total: number;
}

interface LatencySenderDone {
  startedAtMs: number;
  answered: number;
  failure: string | null;
}

function filler(length: number): string {
  return 'x'.repeat(length);
}

function batch(valueBytes: number, records: number, values: 'text' | 'bytes' = 'text'): ProduceInput[] {
  const value = values === 'text' ? filler(valueBytes) : new Uint8Array(valueBytes).fill(0x78);
  return Array.from({ length: records }, () => ({ value }));
}

/** Runs `inflight` loops of `call` until `seconds` have passed; returns the calls completed and the time taken. */
async function closedLoop(inflight: number, seconds: number, call: () => Promise<void>): Promise<{ calls: number; elapsedMs: number }> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let calls = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < deadline) {
        await call();
        calls++;
      }
    }),
  );
  return { calls, elapsedMs: performance.now() - started };
}

async function wsProduce(job: Extract<LoadJob, { mode: 'ws-produce' }>): Promise<LoadResult> {
  const client = await FerryClient.connect(job.url, { WebSocket, encoding: job.encoding });
  const records = batch(job.valueBytes, job.batchRecords, job.values);
  // Warm-up: a few calls, untimed.
  for (let i = 0; i < 4; i++) await client.produce(job.topic, records, { acks: 1 });
  const { calls, elapsedMs } = await closedLoop(job.inflight, job.seconds, async () => {
    await client.produce(job.topic, records, { acks: 1 });
  });
  await client.close();
  const count = calls * job.batchRecords;
  return { mode: 'ws-produce', records: count, valueBytes: count * job.valueBytes, elapsedMs };
}

async function withinWait<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function countToEnd(subscription: Subscription, expected: number): Promise<{ records: number; valueBytes: number }> {
  let records = 0;
  let valueBytes = 0;
  for await (const record of subscription) {
    valueBytes += record.value?.length ?? 0;
    if (++records >= expected) break;
  }
  return { records, valueBytes };
}

async function wsConsume(job: Extract<LoadJob, { mode: 'ws-consume' }>): Promise<LoadResult> {
  // Pre-fill (untimed): JSON produce, acks=1, `inflight` batches at a time.
  const producer = await FerryClient.connect(job.url, { WebSocket, encoding: 'json' });
  const records = batch(job.valueBytes, job.batchRecords);
  const batches = Math.ceil(job.records / job.batchRecords);
  const prefillStarted = performance.now();
  let nextBatch = 0;
  await Promise.all(
    Array.from({ length: job.inflight }, async () => {
      while (nextBatch < batches) {
        nextBatch++;
        await producer.produce(job.topic, records, { acks: 1 });
      }
    }),
  );
  const prefillMs = performance.now() - prefillStarted;
  await producer.close();
  const total = batches * job.batchRecords;

  const runs: Array<{ encoding: Encoding; records: number; valueBytes: number; elapsedMs: number }> = [];
  for (const encoding of job.encodings) {
    const client = await FerryClient.connect(job.url, { WebSocket, encoding });
    const started = performance.now();
    const subscription = client.subscribe(job.topic, { from: 'earliest' });
    const counted = await withinWait(countToEnd(subscription, total), `consume ${total} records (${encoding})`);
    const elapsedMs = performance.now() - started;
    await client.close();
    runs.push({ encoding, ...counted, elapsedMs });
  }
  return { mode: 'ws-consume', prefillMs, runs };
}

async function wsLatency(job: Extract<LoadJob, { mode: 'ws-latency' }>): Promise<LoadResult> {
  const sender = new SenderThread<LatencySenderJob, LatencySenderDone>(import.meta.url);
  try {
    const runs: LatencyRun[] = [];
    for (const rate of job.rates) runs.push(await wsLatencyRun(job, rate, sender));
    return { mode: 'ws-latency', runs };
  } finally {
    await sender.close();
  }
}

async function wsLatencyRun(
  job: Extract<LoadJob, { mode: 'ws-latency' }>,
  { ratePerSecond, warmupSeconds, seconds }: LatencyRate,
  sender: SenderThread<LatencySenderJob, LatencySenderDone>,
): Promise<LatencyRun> {
  const topic = `${job.topic}-${ratePerSecond}`;
  const consumer = await FerryClient.connect(job.url, { WebSocket, encoding: job.encoding });
  const subscription = consumer.subscribe(topic, { from: 'latest' });
  await withinWait(subscription.ready, 'subscribe');

  // The first warmupSeconds of records (same rate) are delivered but not recorded: JIT and socket warm-up.
  const warmup = Math.round(ratePerSecond * warmupSeconds);
  const total = warmup + Math.max(1, Math.round(ratePerSecond * seconds));
  const latency = new LatencyRecorder(warmup, total);
  const consumed = (async () => {
    for await (const record of subscription as AsyncIterable<ConsumedRecord>) {
      if (latency.delivered(record.valueText ?? '', monotonicMs())) break;
    }
  })();

  const senderJob: LatencySenderJob = { url: job.url, topic, encoding: job.encoding, valueBytes: job.valueBytes, ratePerSecond, total };
  // Together: a sender that fails ends the run now, not after the delivery wait.
  const [deliveredAllAtMs, done] = await Promise.all([
    withinWait(consumed, `deliver ${total} records`).then(() => monotonicMs()),
    sender.run(senderJob),
  ]);
  if (done.failure !== null) throw new Error(`produce failed: ${done.failure}`);
  if (done.answered !== total) throw new Error(`${done.answered} of ${total} produce calls answered`);
  await consumer.close();
  return { ratePerSecond, warmupSeconds, seconds, sent: total, elapsedMs: deliveredAllAtMs - done.startedAtMs, ...latency.summary() };
}

/** The sender thread: one produce() per record at its due time, never waiting on answers; reports once every call is settled. */
async function sendLatencyRecords(job: LatencySenderJob): Promise<LatencySenderDone> {
  const producer = await FerryClient.connect(job.url, { WebSocket, encoding: job.encoding });
  let answered = 0;
  let failure: string | null = null;
  const produced: Array<Promise<void>> = [];
  const startedAtMs = await sendPaced(job.ratePerSecond, job.total, (dueAtMs) => {
    const call = producer.produce(job.topic, { value: stampDueTime(dueAtMs, job.valueBytes) }, { acks: 1 });
    produced.push(call.then(() => void answered++, (error: unknown) => void (failure ??= error instanceof Error ? error.message : String(error))));
  });
  await withinWait(Promise.all(produced), 'produce answers');
  await producer.close();
  return { startedAtMs, answered, failure };
}

async function httpProduce(job: Extract<LoadJob, { mode: 'http-produce' }>): Promise<LoadResult> {
  const url = `${job.baseUrl}/v3/clusters/${encodeURIComponent(job.clusterId)}/topics/${encodeURIComponent(job.topic)}/records`;
  const value = filler(job.valueBytes);
  const body = JSON.stringify(Array.from({ length: job.batchRecords }, () => ({ value: { type: 'STRING', data: value } })));
  const post = async (): Promise<void> => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`POST ${url}: ${response.status} ${text.slice(0, 200)}`);
  };
  for (let i = 0; i < 4; i++) await post(); // warm-up, untimed
  const { calls, elapsedMs } = await closedLoop(job.inflight, job.seconds, post);
  return { mode: 'http-produce', records: calls * job.batchRecords, requests: calls, elapsedMs };
}

async function main(): Promise<void> {
  const argument = process.argv[2];
  if (argument === undefined) throw new Error('usage: node --import tsx bench/doors-load.ts <job as JSON>');
  const job = JSON.parse(argument) as LoadJob;
  let result: LoadResult;
  switch (job.mode) {
    case 'ws-produce':
      result = await wsProduce(job);
      break;
    case 'ws-consume':
      result = await wsConsume(job);
      break;
    case 'ws-latency':
      result = await wsLatency(job);
      break;
    case 'http-produce':
      result = await httpProduce(job);
      break;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (isMainThread) {
  try {
    await main();
  } catch (error) {
    // Exit now: a failed run leaves sockets open (a client reconnecting, a subscription waiting) that would keep the child alive until runLoadScript's timeout.
    process.stderr.write(`doors-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`, () => process.exit(1));
  }
} else {
  serveSenderThread(sendLatencyRecords);
}
