/**
 * The sender of bench/reference.bench.ts, run as a child process so its CPU
 * is not counted against the receiver in the parent:
 *
 *   node --import tsx bench/reference-load.ts '<ReferenceLoadJob as JSON>'
 *
 *   tcp-send       writes `bytes` of 1 MiB buffers to a plain TCP socket as
 *                  fast as the socket takes them, then waits for the
 *                  receiver's one-byte acknowledgement (sent once the last
 *                  byte is in its file)
 *   kafka-produce  a raw Kafka client on Ferry's codec: one Produce v9
 *                  request (acks=1) carrying a pre-built batch of 1 KiB
 *                  records of at most 1 MiB, framed once and sent `requests`
 *                  times, `inflight` at a time; every response decoded and
 *                  checked. No client-side encoding is timed.
 *
 * Both time from the first byte sent to the last acknowledgement, so both
 * figures cover the same path: loopback socket in, page cache out. Prints its
 * result as one JSON line on stdout and exits. Nothing asserts on timing.
 */

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { API_KEY, findApi } from '../src/protocol/kafka/apis.js';
import { decode, decodeResponseHeader, encode, encodeRequestHeader } from '../src/protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../src/protocol/kafka/codec/writer.js';
import { buildBatch } from '../src/storage/batch-builder.js';

export type ReferenceLoadJob =
  | { mode: 'tcp-send'; port: number; bytes: number; writeBytes: number }
  | { mode: 'kafka-produce'; port: number; topic: string; batchBytesMax: number; warmupRequests: number; requests: number; inflight: number };

export type ReferenceLoadResult =
  | { mode: 'tcp-send'; bytes: number; elapsedMs: number }
  | { mode: 'kafka-produce'; requests: number; records: number; batchBytes: number; elapsedMs: number };

const SIZE_PREFIX_BYTES = 4;
const PRODUCE_VERSION = 9;
const RECORD_KEY_BYTES = 16;
const RECORD_VALUE_BYTES = 1000;
/** Upper bound of one encoded 1 KiB record, for a first guess at the batch's record count. */
const RECORD_ENCODED_BYTES_MAX = 1030;

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function tcpSend(job: Extract<ReferenceLoadJob, { mode: 'tcp-send' }>): Promise<ReferenceLoadResult> {
  const socket = await connect(job.port);
  const chunk = randomBytes(job.writeBytes);
  const acknowledged = new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('close', () => reject(new Error('receiver closed before acknowledging')));
  });
  const started = performance.now();
  for (let sent = 0; sent < job.bytes; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await acknowledged;
  const elapsedMs = performance.now() - started;
  socket.destroy();
  return { mode: 'tcp-send', bytes: job.bytes, elapsedMs };
}

/** The largest batch of 1 KiB records (16-byte key, 1000-byte random value) within `bytesMax`. */
function batchUpTo(bytesMax: number): { batch: Buffer; records: number } {
  const noise = randomBytes(4 * 1024 * 1024);
  const timestamp = BigInt(Date.now());
  for (let count = Math.floor(bytesMax / RECORD_ENCODED_BYTES_MAX) + 8; count > 0; count--) {
    const records = Array.from({ length: count }, (_, i) => {
      const from = (i * 4099) % (noise.length - RECORD_VALUE_BYTES);
      return { key: Buffer.from(`key-${String(i).padStart(RECORD_KEY_BYTES - 4, '0')}`), value: noise.subarray(from, from + RECORD_VALUE_BYTES), timestamp };
    });
    const batch = buildBatch(records);
    if (batch.length <= bytesMax) return { batch, records: count };
  }
  throw new Error(`no batch of 1 KiB records fits ${bytesMax} bytes`);
}

/** Whole response frames (size prefix stripped) from a socket's chunks. */
class FrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= SIZE_PREFIX_BYTES) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < SIZE_PREFIX_BYTES + size) return;
      onFrame(this.buffered.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + size));
      this.buffered = this.buffered.subarray(SIZE_PREFIX_BYTES + size);
    }
  }
}

async function kafkaProduce(job: Extract<ReferenceLoadJob, { mode: 'kafka-produce' }>): Promise<ReferenceLoadResult> {
  const api = findApi(API_KEY.Produce)!;
  const { batch, records } = batchUpTo(job.batchBytesMax);
  const writer = new KafkaWriter(batch.length + 256);
  writer.writeInt32(0);
  encodeRequestHeader(api, { requestApiKey: api.apiKey, requestApiVersion: PRODUCE_VERSION, correlationId: 1, clientId: 'ferry-bench-reference' }, writer);
  encode(api.request, PRODUCE_VERSION, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: job.topic, partitionData: [{ index: 0, records: batch }] }] }, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  // One frame sent every time: the broker answers in order, so one correlation id serves.
  const frame = Buffer.from(writer.finish());

  const socket = await connect(job.port);
  socket.setNoDelay(true);
  const splitter = new FrameSplitter();
  const run = (requests: number): Promise<number> =>
    new Promise((resolve, reject) => {
      let sent = 0;
      let answered = 0;
      const started = performance.now();
      const send = (): void => {
        while (sent < requests && sent - answered < job.inflight) {
          socket.write(frame);
          sent++;
        }
      };
      const onData = (chunk: Buffer): void => {
        try {
          splitter.push(chunk, (response) => {
            const reader = new KafkaReader(response);
            decodeResponseHeader(api, PRODUCE_VERSION, reader);
            const body = decode(api.response, PRODUCE_VERSION, reader) as unknown as { responses: Array<{ partitionResponses: Array<{ errorCode: number }> }> };
            const errorCode = body.responses[0]?.partitionResponses[0]?.errorCode;
            if (errorCode !== 0) throw new Error(`Produce answered error code ${errorCode}`);
            answered++;
          });
        } catch (error) {
          socket.off('data', onData);
          reject(error as Error);
          return;
        }
        if (answered === requests) {
          socket.off('data', onData);
          resolve(performance.now() - started);
        } else {
          send();
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error(`broker closed the connection after ${answered} of ${requests} responses`)));
      send();
    });
  await run(job.warmupRequests);
  const elapsedMs = await run(job.requests);
  socket.destroy();
  return { mode: 'kafka-produce', requests: job.requests, records: job.requests * records, batchBytes: batch.length, elapsedMs };
}

const job = JSON.parse(process.argv[2] ?? '{}') as ReferenceLoadJob;
const result = job.mode === 'tcp-send' ? await tcpSend(job) : await kafkaProduce(job);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
