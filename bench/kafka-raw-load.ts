/**
 * Raw Kafka-protocol load generators of bench/kafka.bench.ts, run as a child
 * process so their CPU is not counted against the broker's event loop:
 *
 *   node --import tsx bench/kafka-raw-load.ts '<KafkaRawJob as JSON>'
 *
 *   produce   pre-encoded Produce v9 frames (acks=1), one record batch of
 *             `batchRecords` x `valueBytes` each, built once per connection
 *             and sent again and again, `inflight` requests at a time on each
 *             of `connections` sockets: the broker's ingest is measured, not
 *             a client's encoding. Every response is checked (error code 0).
 *             Requests answered during the first `warmupSeconds` are not
 *             counted; then `seconds` of answers are.
 *   catch-up  one socket, sessionless Fetch v12 from offset 0 to `endOffset`
 *             with a large max_bytes, one request at a time (Kafka answers a
 *             connection in order and the next offset is only known from the
 *             answer); counts record-set bytes. The socket reads into one
 *             reused buffer, response frames are gathered into another, and
 *             only batch headers are walked.
 *
 * Prints its result as one JSON line on stdout and exits. Nothing here
 * asserts on timing.
 */

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { API_KEY, findApi } from '../src/protocol/kafka/apis.js';
import { decode, decodeResponseHeader, encode, encodeRequestHeader, type KafkaStruct } from '../src/protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../src/protocol/kafka/codec/writer.js';
import type { ApiSpec } from '../src/protocol/kafka/message-spec.js';
import { buildBatch } from '../src/storage/batch-builder.js';
import { BASE_OFFSET_OFFSET, LAST_OFFSET_DELTA_OFFSET, LENGTH_OFFSET, LOG_OVERHEAD } from '../src/storage/record-batch.js';

export type KafkaRawJob =
  | { mode: 'produce'; port: number; topic: string; valueBytes: number; batchRecords: number; connections: number; inflight: number; warmupSeconds: number; seconds: number }
  | { mode: 'catch-up'; port: number; topic: string; endOffset: number; maxBytes: number };

export type KafkaRawResult =
  | { mode: 'produce'; requests: number; records: number; batchBytes: number; elapsedMs: number; clientCpuCores: number }
  | { mode: 'catch-up'; fetches: number; bytes: number; records: number; elapsedMs: number; clientCpuCores: number };

const SIZE_PREFIX_BYTES = 4;
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;
const CLIENT_ID = 'ferry-bench-raw';
/** Record-set bytes of one sessionless fetch beyond which the catch-up frame buffer grows (it starts at this). */
const FRAME_BUFFER_BYTES = 64 * 1024 * 1024;
/** The catch-up socket's read buffer: one read takes up to this much of what the kernel holds. */
const CATCH_UP_READ_BYTES = 4 * 1024 * 1024;

/** This process's CPU (user + system) since `before`, in cores over `wallMs`: says whether the client was the bound. */
function cpuCores(before: NodeJS.CpuUsage, wallMs: number): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / wallMs;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
    socket.setNoDelay(true);
  });
}

function requestFrame(api: ApiSpec, version: number, correlationId: number, body: KafkaStruct, sizeHint: number): Buffer {
  const writer = new KafkaWriter(sizeHint);
  writer.writeInt32(0);
  encodeRequestHeader(api, { requestApiKey: api.apiKey, requestApiVersion: version, correlationId, clientId: CLIENT_ID }, writer);
  encode(api.request, version, body, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  return Buffer.from(writer.finish());
}

/**
 * Whole response frames from a socket's chunks, gathered into one reused
 * buffer (a frame spanning chunks costs one copy, and no allocation after the
 * first); the frame handed out is valid until the next chunk is pushed.
 */
class FrameGatherer {
  private frame = Buffer.allocUnsafe(FRAME_BUFFER_BYTES);
  private filled = 0;
  /** Size of the frame being gathered (prefix included), or -1 while its prefix is incomplete. */
  private want = -1;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.want < 0) {
        // Fast path: whole frames inside this chunk, no copy.
        if (this.filled === 0 && chunk.length - at >= SIZE_PREFIX_BYTES) {
          const size = chunk.readInt32BE(at);
          if (chunk.length - at >= SIZE_PREFIX_BYTES + size) {
            onFrame(chunk.subarray(at + SIZE_PREFIX_BYTES, at + SIZE_PREFIX_BYTES + size));
            at += SIZE_PREFIX_BYTES + size;
            continue;
          }
        }
        const prefixPart = Math.min(SIZE_PREFIX_BYTES - this.filled, chunk.length - at);
        chunk.copy(this.frame, this.filled, at, at + prefixPart);
        this.filled += prefixPart;
        at += prefixPart;
        if (this.filled < SIZE_PREFIX_BYTES) return;
        this.want = SIZE_PREFIX_BYTES + this.frame.readInt32BE(0);
        if (this.want > this.frame.length) {
          const grown = Buffer.allocUnsafe(this.want);
          this.frame.copy(grown, 0, 0, this.filled);
          this.frame = grown;
        }
      }
      const part = Math.min(this.want - this.filled, chunk.length - at);
      chunk.copy(this.frame, this.filled, at, at + part);
      this.filled += part;
      at += part;
      if (this.filled === this.want) {
        onFrame(this.frame.subarray(SIZE_PREFIX_BYTES, this.want));
        this.filled = 0;
        this.want = -1;
      }
    }
  }
}

function decodeResponse(api: ApiSpec, version: number, frame: Buffer): Record<string, unknown> {
  const reader = new KafkaReader(frame);
  decodeResponseHeader(api, version, reader);
  return decode(api.response, version, reader);
}

function firstPartition(body: Record<string, unknown>, topicsKey: string, partitionsKey: string): Record<string, unknown> {
  const topic = (body[topicsKey] as Array<Record<string, unknown>>)[0];
  const partition = (topic?.[partitionsKey] as Array<Record<string, unknown>> | undefined)?.[0];
  if (partition === undefined) throw new Error(`response without a partition: ${JSON.stringify(body, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  return partition;
}

async function produce(job: Extract<KafkaRawJob, { mode: 'produce' }>): Promise<KafkaRawResult> {
  const api = findApi(API_KEY.Produce)!;
  const value = Buffer.alloc(job.valueBytes, 'x');
  const timestamp = BigInt(Date.now());
  const batch = buildBatch(Array.from({ length: job.batchRecords }, () => ({ value, timestamp })));
  const body = { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: job.topic, partitionData: [{ index: 0, records: batch }] }] };
  // One frame per connection, sent every time: answers come in order, so one correlation id serves.
  const frame = requestFrame(api, PRODUCE_VERSION, 1, body, batch.length + 256);
  const sockets = await Promise.all(Array.from({ length: job.connections }, () => connect(job.port)));

  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const countFrom = startedAt + job.warmupSeconds * 1000;
  const stopAt = countFrom + job.seconds * 1000;
  let counted = 0;
  let countedFirstAt = 0;
  let countedLastAt = 0;
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve, reject) => {
          const gatherer = new FrameGatherer();
          let sent = 0;
          let answered = 0;
          const send = (): void => {
            const now = performance.now();
            while (now < stopAt && sent - answered < job.inflight) {
              socket.write(frame);
              sent++;
            }
            if (sent === answered) resolve();
          };
          socket.on('data', (chunk: Buffer) => {
            try {
              gatherer.push(chunk, (response) => {
                const errorCode = firstPartition(decodeResponse(api, PRODUCE_VERSION, response), 'responses', 'partitionResponses')['errorCode'];
                if (errorCode !== 0) throw new Error(`Produce answered error code ${String(errorCode)}`);
                answered++;
                const now = performance.now();
                if (now >= countFrom && now < stopAt) {
                  if (counted === 0) countedFirstAt = now;
                  counted++;
                  countedLastAt = now;
                }
              });
            } catch (error) {
              reject(error as Error);
              return;
            }
            send();
          });
          socket.once('close', () => reject(new Error(`broker closed a producer connection after ${answered} answers`)));
          send();
        }),
    ),
  );
  const clientCpuCores = cpuCores(cpuBefore, performance.now() - startedAt);
  for (const socket of sockets) socket.destroy();
  // Counted answers span (first, last]: the first one marks the start of the window.
  const requests = counted - 1;
  if (requests <= 0) throw new Error(`only ${counted} answers in the measured window`);
  return { mode: 'produce', requests, records: requests * job.batchRecords, batchBytes: batch.length, elapsedMs: countedLastAt - countedFirstAt, clientCpuCores };
}

/** Bytes and records in a record set of whole batches, and the offset after its last batch. */
function walkBatches(records: Buffer): { records: number; nextOffset: number } {
  let at = 0;
  let count = 0;
  let nextOffset = -1;
  while (at + LAST_OFFSET_DELTA_OFFSET + 4 <= records.length) {
    const size = records.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (at + size > records.length) break; // a partial batch at the end (max_bytes cut it)
    const lastDelta = records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    nextOffset = Number(records.readBigInt64BE(at + BASE_OFFSET_OFFSET)) + lastDelta + 1;
    count += lastDelta + 1;
    at += size;
  }
  return { records: count, nextOffset };
}

/**
 * A socket that reads into one reused buffer (node:net's onread) instead of
 * a fresh 64 KiB chunk per read: a reader taking 1 GB/s would otherwise spend
 * most of its CPU on allocation and per-chunk stream machinery. `onChunk`
 * must be done with the chunk before it returns.
 */
/** onread's callback pauses the socket when it returns false. */
const keepReading = (_: void): boolean => true;

function connectReadingInto(port: number, readBuffer: Buffer, onChunk: (chunk: Buffer) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', onread: { buffer: readBuffer, callback: (bytes) => keepReading(onChunk(readBuffer.subarray(0, bytes))) } }, () => resolve(socket));
    socket.once('error', reject);
    socket.setNoDelay(true);
  });
}

async function catchUp(job: Extract<KafkaRawJob, { mode: 'catch-up' }>): Promise<KafkaRawResult> {
  const api = findApi(API_KEY.Fetch)!;
  const gatherer = new FrameGatherer();
  let onChunk: (chunk: Buffer) => void = () => undefined;
  const socket = await connectReadingInto(job.port, Buffer.allocUnsafe(CATCH_UP_READ_BYTES), (chunk) => onChunk(chunk));
  const fetchFrame = (offset: number, correlationId: number): Buffer =>
    requestFrame(
      api,
      FETCH_VERSION,
      correlationId,
      {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: job.maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: job.topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: job.maxBytes }] }],
        forgottenTopicsData: [],
        rackId: '',
      },
      256,
    );
  let offset = 0;
  let fetches = 0;
  let bytes = 0;
  let records = 0;
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  await new Promise<void>((resolve, reject) => {
    onChunk = (chunk: Buffer) => {
      try {
        gatherer.push(chunk, (response) => {
          const partition = firstPartition(decodeResponse(api, FETCH_VERSION, response), 'responses', 'partitions');
          if (partition['errorCode'] !== 0) throw new Error(`Fetch at ${offset} answered error code ${String(partition['errorCode'])}`);
          const set = (partition['records'] as Buffer | null) ?? Buffer.alloc(0);
          const walked = walkBatches(set);
          if (walked.nextOffset <= offset) throw new Error(`Fetch at ${offset} returned no whole batch (${set.length} bytes)`);
          fetches++;
          bytes += set.length;
          records += walked.records;
          offset = walked.nextOffset;
          if (offset >= job.endOffset) resolve();
          else socket.write(fetchFrame(offset, fetches + 1));
        });
      } catch (error) {
        reject(error as Error);
      }
    };
    socket.once('close', () => reject(new Error(`broker closed the consumer at offset ${offset}`)));
    socket.write(fetchFrame(offset, 1));
  });
  const elapsedMs = performance.now() - startedAt;
  socket.destroy();
  return { mode: 'catch-up', fetches, bytes, records, elapsedMs, clientCpuCores: cpuCores(cpuBefore, elapsedMs) };
}

try {
  const job = JSON.parse(process.argv[2] ?? '{}') as KafkaRawJob;
  const result = job.mode === 'produce' ? await produce(job) : await catchUp(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (error) {
  process.stderr.write(`kafka-raw-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
