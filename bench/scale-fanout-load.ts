/**
 * The fan-out load of bench/scale.bench.ts, run as child processes:
 *
 *   node --import tsx bench/scale-fanout-load.ts '<FanoutJob as JSON>'
 *
 *   subscribers  opens `subscribers` raw WebSocket connections (the `ws`
 *                package, binary encoding: pushes carry the stored batches),
 *                subscribes each from the start of the empty topic, prints
 *                READY_LINE, then records, for each record of each subscriber,
 *                its due time to the push's arrival, until every subscriber has
 *                `records` records. Credit is granted back as pushes are read,
 *                half a window at a time, as FerryClient does.
 *
 * Due times: the producer stamps each value with its due time (epoch ms), and
 * the schedule is exact (record i is due at due(0) + i / rate, and lands at
 * offset i of the fresh topic), so a subscriber reads the stamp of the first
 * record of each push only, checks it against the schedule, and derives the
 * others from their offsets: decoding every record of a million deliveries a
 * second would make the clients, not the broker, the figure.
 *   producer     FerryClient, one record per produce (acks=1) on the open-loop
 *                schedule of open-loop.ts, from when the parent says go (it
 *                connects and prints READY_LINE first); the value is the due
 *                time as epoch ms (performance.timeOrigin + due), so another
 *                process can compare.
 *
 * A raw client rather than FerryClient on the subscriber side: a thousand
 * subscribers in one process make the client's per-record cost the figure.
 * The first `warmupRecords` offsets are delivered but not recorded. Prints its
 * result as one JSON line last on stdout. Nothing asserts on timing.
 */

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { FerryClient, type WebSocketConstructor } from '../src/client/index.js';
import { readRecordsFrameHeader, RECORDS_FRAME_HEADER_BYTES } from '../src/protocol/ws/protocol.js';
import { sendOpenLoop, stampDueTime } from './open-loop.js';
import { READY_LINE, waitForGo } from './scale-child.js';

/** What this file uses of the `ws` package's WebSocket (the package ships no types here). */
interface RawSocket {
  binaryType: string;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'close', listener: () => void): void;
  send(text: string): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => RawSocket;

export type FanoutJob =
  | { mode: 'subscribers'; url: string; topic: string; subscribers: number; records: number; warmupRecords: number; creditBytes: number; ratePerSecond: number }
  | { mode: 'producer'; url: string; topic: string; ratePerSecond: number; records: number; valueBytes: number };

export type FanoutResult =
  | { mode: 'subscribers'; subscribers: number; delivered: number; recorded: number; pushes: number; histogram: string; elapsedMs: number }
  | { mode: 'producer'; sent: number; elapsedMs: number };

/** Latencies in microseconds, 1 µs to 60 s, 3 significant digits: open-loop.ts's histogram (the parent merges the children's). */
const latencyHistogram = (): hdr.Histogram => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

const epochNowMs = (): number => performance.timeOrigin + performance.now();

// RecordBatch v2: where the fields this reader needs sit (record-batch.ts has the full layout).
const BATCH_ATTRIBUTES_OFFSET = 21;
const BATCH_RECORDS_COUNT_OFFSET = 57;
const BATCH_HEADER_BYTES = 61;
const COMPRESSION_MASK = 0x07;
/** How far a stamp may sit from the schedule: the stamp's text keeps 4 decimals of epoch ms. */
const SCHEDULE_SLACK_MS = 0.01;

/** A zigzag varint at `at`: [value, bytes read]. */
function readVarint(bytes: Buffer, at: number): [number, number] {
  let raw = 0;
  let shift = 0;
  let read = 0;
  for (;;) {
    const byte = bytes[at + read++]!;
    raw += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  return [raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, read];
}

/** The value of the first record of the first batch at `bytes[from..]`, as latin1 text (the producer here never compresses). */
function firstValue(bytes: Buffer, from: number): string {
  if ((bytes.readInt16BE(from + BATCH_ATTRIBUTES_OFFSET) & COMPRESSION_MASK) !== 0) throw new Error('compressed batch: the producer here never compresses');
  if (bytes.readInt32BE(from + BATCH_RECORDS_COUNT_OFFSET) < 1) throw new Error('an empty batch at the head of a push');
  const record = from + BATCH_HEADER_BYTES;
  let field = record + readVarint(bytes, record)[1] + 1; // length, attributes
  field += readVarint(bytes, field)[1]; // timestampDelta
  field += readVarint(bytes, field)[1]; // offsetDelta
  const [keyLength, keyLengthBytes] = readVarint(bytes, field);
  field += keyLengthBytes + Math.max(0, keyLength);
  const [valueLength, valueLengthBytes] = readVarint(bytes, field);
  field += valueLengthBytes;
  return valueLength < 0 ? '' : bytes.toString('latin1', field, field + valueLength);
}

/** The first batch's base offset at `bytes[from..]`. */
function firstBaseOffset(bytes: Buffer, from: number): number {
  return Number(bytes.readBigInt64BE(from));
}

interface SubscriberState {
  subscription: number | null;
  nextOffset: number;
  creditUnreported: number;
}

async function subscribers(job: Extract<FanoutJob, { mode: 'subscribers' }>): Promise<FanoutResult> {
  const histogram = latencyHistogram();
  let delivered = 0;
  let recorded = 0;
  let pushes = 0;
  let finished = 0;
  let firstPushAt = 0;
  const intervalMs = 1000 / job.ratePerSecond;
  /** Due time of offset 0 (epoch ms), from the first push any subscriber receives. */
  let firstDueMs: number | undefined;
  let resolveAll: () => void = () => {};
  let failAll: (error: Error) => void = () => {};
  const allDone = new Promise<void>((resolve, reject) => {
    resolveAll = resolve;
    failAll = reject;
  });

  const open = (): Promise<void> =>
    new Promise((resolveSubscribed, rejectSubscribed) => {
      const socket = new WebSocket(`${job.url}/ws?encoding=binary`);
      const state: SubscriberState = { subscription: null, nextOffset: 0, creditUnreported: 0 };
      socket.binaryType = 'nodebuffer';
      socket.on('error', (error) => {
        rejectSubscribed(error);
        failAll(error);
      });
      socket.on('close', () => {
        if (state.nextOffset < job.records) failAll(new Error(`a subscriber's socket closed at offset ${state.nextOffset} of ${job.records}`));
      });
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) {
          const message = JSON.parse(data.toString('utf8')) as { type: string; subscription?: number; message?: string };
          if (message.type === 'hello') socket.send(JSON.stringify({ type: 'subscribe', id: 1, topic: job.topic, from: 'earliest', credit: job.creditBytes }));
          else if (message.type === 'subscribed') {
            state.subscription = message.subscription!;
            resolveSubscribed();
          } else if (message.type === 'error') failAll(new Error(`broker: ${JSON.stringify(message)}`));
          return;
        }
        const arrivedAtMs = epochNowMs();
        firstPushAt ||= arrivedAtMs;
        const header = readRecordsFrameHeader(data);
        if (header === null) {
          failAll(new Error('a binary frame that is not a records frame'));
          return;
        }
        pushes++;
        const base = firstBaseOffset(data, RECORDS_FRAME_HEADER_BYTES);
        const stamped = Number.parseFloat(firstValue(data, RECORDS_FRAME_HEADER_BYTES));
        firstDueMs ??= stamped - base * intervalMs;
        if (Math.abs(stamped - (firstDueMs + base * intervalMs)) > SCHEDULE_SLACK_MS) {
          failAll(new Error(`offset ${base} is stamped ${stamped}, the schedule says ${firstDueMs + base * intervalMs}: records did not land in produce order`));
          return;
        }
        for (let offset = Math.max(base, header.fetchOffset); offset < header.nextOffset; offset++) {
          delivered++;
          if (offset >= job.warmupRecords) {
            histogram.recordValue(Math.max(1, Math.round((arrivedAtMs - (firstDueMs + offset * intervalMs)) * 1000)));
            recorded++;
          }
        }
        state.nextOffset = header.nextOffset;
        state.creditUnreported += data.length - RECORDS_FRAME_HEADER_BYTES;
        if (state.creditUnreported >= job.creditBytes / 2) {
          socket.send(JSON.stringify({ type: 'credit', subscription: state.subscription, bytes: state.creditUnreported }));
          state.creditUnreported = 0;
        }
        if (state.nextOffset >= job.records) {
          socket.close();
          if (++finished === job.subscribers) resolveAll();
        }
      });
    });

  // Connect in waves: thousands of simultaneous upgrades only queue up in the kernel's accept backlog.
  const WAVE = 200;
  for (let first = 0; first < job.subscribers; first += WAVE) {
    await Promise.all(Array.from({ length: Math.min(WAVE, job.subscribers - first) }, open));
  }
  process.stdout.write(`${READY_LINE}\n`);
  await allDone;
  return { mode: 'subscribers', subscribers: job.subscribers, delivered, recorded, pushes, histogram: hdr.encodeIntoCompressedBase64(histogram), elapsedMs: epochNowMs() - firstPushAt };
}

async function producer(job: Extract<FanoutJob, { mode: 'producer' }>): Promise<FanoutResult> {
  const client = await FerryClient.connect(job.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, encoding: 'binary' });
  process.stdout.write(`${READY_LINE}\n`);
  await waitForGo();
  const produced: Array<Promise<unknown>> = [];
  const started = await sendOpenLoop(job.ratePerSecond, job.records, (dueAt) => {
    produced.push(client.produce(job.topic, { value: stampDueTime(performance.timeOrigin + dueAt, job.valueBytes) }, { acks: 1 }));
  });
  await Promise.all(produced);
  const elapsedMs = performance.now() - started;
  await client.close();
  return { mode: 'producer', sent: job.records, elapsedMs };
}

try {
  const job = JSON.parse(process.argv[2] ?? '{}') as FanoutJob;
  const result = job.mode === 'subscribers' ? await subscribers(job) : await producer(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (error) {
  process.stderr.write(`scale-fanout-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
