/**
 * The end-to-end latency load generator of bench/kafka.bench.ts, run as a
 * child process so its CPU is not counted against the broker's event loop:
 *
 *   node --import tsx bench/kafka-latency-load.ts '<KafkaLatencyJob as JSON>'
 *
 * A raw Kafka client on Ferry's codec (no client library: kafkajs alone adds
 * milliseconds), two sockets:
 *
 *   producer  one record per Produce v9 request (acks=1), open loop: record i
 *             is due at started + i / rate whether or not earlier ones were
 *             answered, and carries its due time (CLOCK_MONOTONIC in ms, as
 *             text) in its value, so a stalled sender shows up as latency
 *             (no coordinated omission). It runs in a worker thread and
 *             sleeps to each due time with Atomics.wait (paced-sender.ts),
 *             not a timer: Node's timers fire in whole milliseconds, and a
 *             sender that sends each record up to 1 ms late adds its own
 *             lateness (about 0.6 ms at the median) to every figure. It lets
 *             its event loop run (answers checked) at least every millisecond.
 *   consumer  long-polls Fetch v12 (max_wait_ms, min_bytes 1) from the log
 *             end on the main thread, whose event loop never sleeps on the
 *             sender's behalf, decodes every batch and records due time to
 *             delivery
 *
 * The first warmupSeconds of records are delivered but not recorded. Prints
 * its result as one JSON line on stdout and exits. Nothing asserts on timing.
 */

import net from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { API_KEY, findApi } from '../src/protocol/kafka/apis.js';
import { decode, decodeResponseHeader, encode, encodeRequestHeader, type KafkaStruct } from '../src/protocol/kafka/codec/message-codec.js';
import type { ApiSpec } from '../src/protocol/kafka/message-spec.js';
import { KafkaReader } from '../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../src/protocol/kafka/codec/writer.js';
import { buildBatch } from '../src/storage/batch-builder.js';
import { decodeBatches } from '../src/storage/records.js';
import { LatencyRecorder, stampDueTime, type LatencySummary } from './open-loop.js';
import { monotonicMs, SenderThread, sendPaced, serveSenderThread } from './paced-sender.js';

export interface KafkaLatencyJob {
  port: number;
  topic: string;
  valueBytes: number;
  ratePerSecond: number;
  warmupSeconds: number;
  seconds: number;
  fetchMaxWaitMs: number;
}

export interface KafkaLatencyResult extends LatencySummary {
  sent: number;
  elapsedMs: number;
}

const SIZE_PREFIX_BYTES = 4;
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;
const FETCH_BYTES_MAX = 1 << 20;
const WAIT_MS = 60_000;

interface SenderJob {
  job: KafkaLatencyJob;
  total: number;
}

interface SenderDone {
  startedAtMs: number;
  answered: number;
  failure: string | null;
}

type Row = Record<string, unknown>;

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
    socket.setNoDelay(true);
  });
}

/** A request frame, size prefix included. */
function frame(api: ApiSpec, version: number, correlationId: number, body: Row, sizeHint: number): Buffer {
  const writer = new KafkaWriter(sizeHint);
  writer.writeInt32(0);
  encodeRequestHeader(api, { requestApiKey: api.apiKey, requestApiVersion: version, correlationId, clientId: 'ferry-bench-latency' }, writer);
  encode(api.request, version, body as KafkaStruct, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  return Buffer.from(writer.finish());
}

/** Calls `onFrame` with each whole response frame (size prefix stripped) read from `socket`. */
function onFrames(socket: net.Socket, onFrame: (response: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= SIZE_PREFIX_BYTES) {
      const size = buffered.readInt32BE(0);
      if (buffered.length < SIZE_PREFIX_BYTES + size) return;
      onFrame(buffered.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + size));
      buffered = buffered.subarray(SIZE_PREFIX_BYTES + size);
    }
  });
}

function decodeResponse(api: ApiSpec, version: number, response: Buffer): Row {
  const reader = new KafkaReader(response);
  decodeResponseHeader(api, version, reader);
  return decode(api.response, version, reader) as unknown as Row;
}

function firstPartition(body: Row, topicsField: string, partitionsField: string): Row {
  const partition = ((body[topicsField] as Row[] | undefined)?.[0]?.[partitionsField] as Row[] | undefined)?.[0];
  if (partition === undefined) throw new Error(`response without a partition: ${JSON.stringify(Object.keys(body))}`);
  return partition;
}

function fetchBody(job: KafkaLatencyJob, fetchOffset: bigint): Row {
  return {
    replicaId: -1,
    maxWaitMs: job.fetchMaxWaitMs,
    minBytes: 1,
    maxBytes: FETCH_BYTES_MAX,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: job.topic, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: FETCH_BYTES_MAX, logStartOffset: -1n, currentLeaderEpoch: -1 }] }],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/**
 * The sender thread: record i due at started + i / rate, sent when due (or
 * at once if late), each answer checked; reports when all are answered.
 */
async function sendOnSchedule({ job, total }: SenderJob): Promise<SenderDone> {
  const produceApi = findApi(API_KEY.Produce)!;
  const producer = await connect(job.port);
  let answered = 0;
  let failure: string | null = null;
  onFrames(producer, (response) => {
    try {
      const partition = firstPartition(decodeResponse(produceApi, PRODUCE_VERSION, response), 'responses', 'partitionResponses');
      if (partition['errorCode'] !== 0) throw new Error(`Produce answered error code ${String(partition['errorCode'])}`);
      answered++;
    } catch (error) {
      failure ??= (error as Error).message;
    }
  });
  const send = (dueAt: number, index: number): void => {
    const value = Buffer.from(stampDueTime(dueAt, job.valueBytes), 'latin1');
    const records = buildBatch([{ value }]);
    const body = { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: job.topic, partitionData: [{ index: 0, records }] }] };
    producer.write(frame(produceApi, PRODUCE_VERSION, index + 1, body, records.length + 128));
  };
  const startedAtMs = await sendPaced(job.ratePerSecond, total, send);
  const deadline = monotonicMs() + WAIT_MS;
  while (answered < total && failure === null && monotonicMs() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  producer.destroy();
  return { startedAtMs, answered, failure };
}

async function run(job: KafkaLatencyJob): Promise<KafkaLatencyResult> {
  const fetchApi = findApi(API_KEY.Fetch)!;
  const consumer = await connect(job.port);

  const warmup = Math.round(job.ratePerSecond * job.warmupSeconds);
  const total = warmup + Math.max(1, Math.round(job.ratePerSecond * job.seconds));
  const latency = new LatencyRecorder(warmup, total);
  // Consumer: the log end first (a Fetch at offset 0 of the empty topic answers its high watermark at once).
  let fetchOffset = 0n;
  let allDelivered = false;
  let fetchCorrelationId = 0;
  const delivered = new Promise<void>((resolve, reject) => {
    const poll = (): void => void consumer.write(frame(fetchApi, FETCH_VERSION, ++fetchCorrelationId, fetchBody(job, fetchOffset), 256));
    onFrames(consumer, (response) => {
      const deliveredAt = monotonicMs();
      try {
        const partition = firstPartition(decodeResponse(fetchApi, FETCH_VERSION, response), 'responses', 'partitions');
        if (partition['errorCode'] !== 0) throw new Error(`Fetch answered error code ${String(partition['errorCode'])}`);
        const records = partition['records'] as Buffer | null;
        for (const batch of records === null ? [] : decodeBatches(records)) {
          for (const record of batch.records) {
            if (record.offset < fetchOffset) continue;
            allDelivered = latency.delivered(record.value?.toString('latin1') ?? '', deliveredAt);
            fetchOffset = record.offset + 1n;
          }
        }
      } catch (error) {
        reject(error as Error);
        return;
      }
      if (allDelivered) resolve();
      else poll();
    });
    consumer.once('close', () => reject(new Error(`broker closed the consumer after ${latency.received} of ${total} records`)));
    poll();
  });

  const senderThread = new SenderThread<SenderJob, SenderDone>(import.meta.url);
  const sender = senderThread.run({ job, total });

  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([delivered, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`delivered ${latency.received} of ${total} within ${WAIT_MS} ms`)), WAIT_MS)))]);
  clearTimeout(timer);
  const deliveredAllAt = monotonicMs();
  const done = await sender;
  await senderThread.close();
  if (done.failure !== null) throw new Error(done.failure);
  if (done.answered !== total) throw new Error(`${done.answered} of ${total} produce requests answered`);
  const elapsedMs = deliveredAllAt - done.startedAtMs;
  consumer.destroy();
  return { sent: total, elapsedMs, ...latency.summary() };
}

if (isMainThread) {
  try {
    const result = await run(JSON.parse(process.argv[2] ?? '{}') as KafkaLatencyJob);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`kafka-latency-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
} else {
  serveSenderThread(sendOnSchedule);
}
