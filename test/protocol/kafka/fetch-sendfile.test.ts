/**
 * Fetch answered from the segment files with sendfile (catch-up reads): the
 * record sets are byte for byte what the log holds, under the same limits
 * (max_bytes, KIP-74's whole first batch), responses stay in request order
 * around them, the in-memory fallback gives the same bytes when no sendfile
 * slot is free, a client vanishing mid-send gives its slot back, and kcat
 * and kafkajs read everything back identically.
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_KEY } from '../../../src/protocol/kafka/apis.js';
import { FileSender } from '../../../src/protocol/kafka/file-sender.js';
import { SENDFILE_BYTES_MIN, SENDFILE_OFFSETS_BEHIND_MIN } from '../../../src/protocol/kafka/limits.js';
import { buildBatch } from '../../../src/storage/batch-builder.js';
import { native } from '../../../src/storage/native.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { decodeResponse, encodeRequest, openKafkaServer, RawKafkaClient, WAIT_MS, type KafkaTestServer } from './helpers.js';

const run = promisify(execFile);
const TOPIC = 'catch-up';
const VALUE_BYTES = 1024;
const RECORDS_PER_BATCH = 100;
const BATCHES = 40;
const RECORDS = RECORDS_PER_BATCH * BATCHES;
/** One batch far larger than the fetches below ask for (KIP-74). */
const BIG_BATCH_RECORDS = 700;
const FETCH_VERSION = 12;

let door: KafkaTestServer;
let highWatermark: number;

function valueOf(offset: number): Buffer {
  return Buffer.alloc(VALUE_BYTES, `record-${offset}|`);
}

beforeAll(async () => {
  expect(native, 'these tests need the native addon (sendfile)').not.toBeNull();
  door = await openKafkaServer({ autoCreateTopics: false });
  await door.broker.createTopic(TOPIC, { partitions: 1 });
  let offset = 0;
  for (let batch = 0; batch < BATCHES; batch++) {
    const count = batch === BATCHES / 2 ? BIG_BATCH_RECORDS : RECORDS_PER_BATCH;
    const records = Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${offset + i}`), value: valueOf(offset + i) }));
    await door.broker.produceBatches(TOPIC, 0, buildBatch(records));
    offset += count;
  }
  highWatermark = door.broker.log(TOPIC, 0).logEndOffset;
  expect(highWatermark).toBe(RECORDS - RECORDS_PER_BATCH + BIG_BATCH_RECORDS);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await door?.close();
  await closeSharedStoragePool();
});

function fetchBody(fetchOffset: number, maxBytes: number, partitionMaxBytes = maxBytes): Record<string, unknown> {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: BigInt(fetchOffset), partitionMaxBytes }] }],
    forgottenTopicsData: [],
  };
}

function recordsOf(response: Record<string, unknown>): Buffer {
  const partition = (response['responses'] as Array<{ partitions: Array<{ errorCode: number; records: Buffer | null }> }>)[0]!.partitions[0]!;
  expect(partition.errorCode).toBe(0);
  return partition.records ?? Buffer.alloc(0);
}

/** What the log itself returns for the same read: the bytes every path must send. */
function logBytes(fetchOffset: number, maxBytes: number): Buffer {
  return door.broker.log(TOPIC, 0).read(fetchOffset, maxBytes, { maxOffset: highWatermark, minOneBatch: true }).bytes;
}

function spyOnSendfile(): ReturnType<typeof vi.spyOn> {
  return vi.spyOn(native!, 'sendfile');
}

describe('Fetch served with sendfile', () => {
  it('sends a catch-up record set from the segment file, byte-identical to the log', async () => {
    const sendfile = spyOnSendfile();
    const client = await RawKafkaClient.connect(door.port);
    try {
      const maxBytes = 2 * 1024 * 1024;
      const records = recordsOf(await client.request(API_KEY.Fetch, FETCH_VERSION, fetchBody(0, maxBytes)));
      expect(records.length).toBeGreaterThanOrEqual(SENDFILE_BYTES_MIN);
      expect(records.length).toBeLessThanOrEqual(maxBytes);
      expect(records.equals(logBytes(0, maxBytes))).toBe(true);
      expect(sendfile).toHaveBeenCalledTimes(1);
    } finally {
      client.close();
    }
  });

  it('keeps KIP-74: a first batch larger than max_bytes comes whole', async () => {
    const sendfile = spyOnSendfile();
    const client = await RawKafkaClient.connect(door.port);
    try {
      const bigBatchOffset = (BATCHES / 2) * RECORDS_PER_BATCH;
      const maxBytes = SENDFILE_BYTES_MIN + 1024; // far less than the ~700 KiB batch
      const records = recordsOf(await client.request(API_KEY.Fetch, FETCH_VERSION, fetchBody(bigBatchOffset, maxBytes)));
      expect(records.length).toBeGreaterThan(maxBytes);
      expect(records.equals(logBytes(bigBatchOffset, maxBytes))).toBe(true);
      expect(records.readInt32BE(8) + 12).toBe(records.length); // exactly one whole batch
      expect(sendfile).toHaveBeenCalledTimes(1);
    } finally {
      client.close();
    }
  });

  it('answers pipelined requests in order, sendfile responses among in-memory ones', async () => {
    const client = await RawKafkaClient.connect(door.port);
    try {
      const maxBytes = 1024 * 1024;
      const tailOffset = highWatermark - 3; // at the tail: read into memory
      const middle = 10 * RECORDS_PER_BATCH;
      const requests: Array<{ apiKey: number; version: number; body: Record<string, unknown>; check: (body: Record<string, unknown>) => void }> = [
        { apiKey: API_KEY.Fetch, version: FETCH_VERSION, body: fetchBody(0, maxBytes), check: (body) => expect(recordsOf(body).equals(logBytes(0, maxBytes))).toBe(true) },
        { apiKey: API_KEY.ApiVersions, version: 3, body: { clientSoftwareName: 'ferry-test', clientSoftwareVersion: '1' }, check: (body) => expect(body['errorCode']).toBe(0) },
        { apiKey: API_KEY.Fetch, version: FETCH_VERSION, body: fetchBody(tailOffset, maxBytes), check: (body) => expect(recordsOf(body).equals(logBytes(tailOffset, maxBytes))).toBe(true) },
        { apiKey: API_KEY.Fetch, version: FETCH_VERSION, body: fetchBody(middle, maxBytes), check: (body) => expect(recordsOf(body).equals(logBytes(middle, maxBytes))).toBe(true) },
        { apiKey: API_KEY.Metadata, version: 12, body: { topics: [{ name: TOPIC, topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, check: (body) => expect((body['topics'] as unknown[]).length).toBe(1) },
        { apiKey: API_KEY.Fetch, version: 11, body: fetchBody(0, maxBytes), check: (body) => expect(recordsOf(body).equals(logBytes(0, maxBytes))).toBe(true) },
      ];
      // All written at once: the broker has several in flight and must answer them in this order.
      client.write(Buffer.concat(requests.map((request, i) => encodeRequest(request.apiKey, request.version, i + 1, request.body))));
      for (const [i, request] of requests.entries()) {
        const frame = await client.nextFrame();
        expect(frame, `response ${i + 1}`).not.toBeNull();
        request.check(decodeResponse(request.apiKey, request.version, i + 1, frame!));
      }
    } finally {
      client.close();
    }
  });

  it('reads into memory and sends the same bytes when no sendfile slot is free', async () => {
    vi.spyOn(FileSender.prototype, 'tryReserve').mockReturnValue(false);
    const sendfile = spyOnSendfile();
    const client = await RawKafkaClient.connect(door.port);
    try {
      const maxBytes = 2 * 1024 * 1024;
      const records = recordsOf(await client.request(API_KEY.Fetch, FETCH_VERSION, fetchBody(0, maxBytes)));
      expect(records.equals(logBytes(0, maxBytes))).toBe(true);
      expect(sendfile).not.toHaveBeenCalled();
    } finally {
      client.close();
    }
  });

  it('gives the sendfile slot back when a client vanishes before reading its answer', async () => {
    const sendfile = spyOnSendfile();
    // More vanishing clients than there are slots: a leaked slot would leave none for the last client.
    for (let i = 0; i < 4; i++) {
      const client = await RawKafkaClient.connect(door.port);
      client.write(encodeRequest(API_KEY.Fetch, FETCH_VERSION, 1, fetchBody(0, 8 * 1024 * 1024)));
      await vi.waitFor(() => expect(sendfile.mock.calls.length).toBeGreaterThan(i), { timeout: WAIT_MS });
      client.close();
      await Promise.allSettled(sendfile.mock.results.map((result: { value: unknown }) => result.value as Promise<number>));
    }
    const client = await RawKafkaClient.connect(door.port);
    try {
      const records = recordsOf(await client.request(API_KEY.Fetch, FETCH_VERSION, fetchBody(0, 1024 * 1024)));
      expect(records.equals(logBytes(0, 1024 * 1024))).toBe(true);
      expect(sendfile).toHaveBeenCalledTimes(5);
    } finally {
      client.close();
    }
  });

  it('kcat reads every record back, in order, with the values written', async () => {
    const sendfile = spyOnSendfile();
    const { stdout } = await run('kcat', ['-C', '-b', door.bootstrap, '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o %k %s\n'], { maxBuffer: 64 * 1024 * 1024, timeout: WAIT_MS });
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(highWatermark);
    for (const [offset, line] of lines.entries()) expect(line, `offset ${offset}`).toBe(`${offset} k${offset} ${valueOf(offset).toString()}`);
    expect(sendfile).toHaveBeenCalled();
  }, WAIT_MS * 2);

  it('kafkajs reads every record back, in order, with the values written', async () => {
    expect(highWatermark - SENDFILE_OFFSETS_BEHIND_MIN).toBeGreaterThan(0);
    const sendfile = spyOnSendfile();
    const kafka = new Kafka({ clientId: 'ferry-test', brokers: [door.bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'sendfile-kafkajs', maxBytes: 4 * 1024 * 1024, maxBytesPerPartition: 2 * 1024 * 1024 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      const seen: Array<{ offset: number; key: string; value: Buffer }> = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${highWatermark}`)), WAIT_MS);
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            seen.push({ offset: Number(message.offset), key: message.key!.toString(), value: message.value! });
            if (seen.length === highWatermark) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      for (const [offset, record] of seen.entries()) {
        expect(record.offset).toBe(offset);
        expect(record.key).toBe(`k${offset}`);
        expect(record.value.equals(valueOf(offset)), `offset ${offset}`).toBe(true);
      }
      expect(sendfile).toHaveBeenCalled();
    } finally {
      await consumer.disconnect();
    }
  }, WAIT_MS * 2);
});
