/**
 * Binary produce frames (protocol.ts) against the real door: batches built by
 * the client's encoder and by the storage layer's builder (as a Kafka
 * producer sends them) are appended as they are, and every malformed frame
 * gets an error naming its request while the socket and others carry on.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProduceFrame, setProduceFrameRequestId } from '../../../src/client/batch-encoder.js';
import {
  FRAME_FLAGS_OFFSET,
  FRAME_TYPE_OFFSET,
  FRAME_VERSION_OFFSET,
  PARTITION_ANY,
  PRODUCE_ACKS_OFFSET,
  PRODUCE_FRAME_HEADER_BYTES,
  PRODUCE_TOPIC_LENGTH_OFFSET,
  produceFrameHeaderBytes,
  produceTopicBytes,
  writeProduceFrameHeader,
  type BatchProducedMessage,
  type ErrorMessage,
  type ProducedMessage,
  type ServerMessage,
  type SubscribedMessage,
} from '../../../src/protocol/ws/protocol.js';
import { buildBatch } from '../../../src/storage/batch-builder.js';
import { CRC_OFFSET, LENGTH_OFFSET, MAGIC_OFFSET, RECORDS_OFFSET } from '../../../src/storage/record-batch.js';
import { decodeBatches } from '../../../src/storage/records.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { KIB, TestSocket, startDoor, type Harness } from './door-harness.js';

afterAll(closeSharedStoragePool);

let harness: Harness;
beforeAll(async () => {
  harness = await startDoor({ payloadBytesMax: 64 * KIB });
});
afterAll(() => harness.close());

/** A produce frame around `batches` (the storage builder's or anyone's bytes). */
function frameOf(requestId: number, topic: string, partition: number, acks: number, batches: Buffer): Buffer {
  const topicBytes = produceTopicBytes(topic);
  const frame = Buffer.alloc(produceFrameHeaderBytes(topicBytes) + batches.length);
  writeProduceFrameHeader(frame, requestId, partition, acks, topicBytes);
  batches.copy(frame, produceFrameHeaderBytes(topicBytes));
  return frame;
}

/** A frame from the client library's encoder. */
function clientFrame(requestId: number, topic: string, partition: number, records: Parameters<typeof encodeProduceFrame>[3], acks = 1): Buffer {
  const { frame } = encodeProduceFrame(produceTopicBytes(topic), partition, acks, records, Date.now());
  setProduceFrameRequestId(frame, requestId);
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

const isMessage = (m: ServerMessage | Buffer): m is ServerMessage => !Buffer.isBuffer(m);

describe('binary produce', () => {
  it('appends the client-built batches byte for byte and answers once per frame; JSON subscribers read them back', async () => {
    await harness.broker.createTopic('bin', { partitions: 2 });
    const socket = await TestSocket.open(harness.port, 'encoding=binary');
    const records = [
      { key: 'k', value: 'héllo', headers: [{ key: 'h', value: 'v' }], timestamp: 1_000 },
      { value: new Uint8Array([0xff, 0x00, 0xfe]), headers: { trace: null }, timestamp: 900 },
      { key: 'gone', value: null, timestamp: 1_100 },
    ];
    const frame = clientFrame(41, 'bin', 1, records);
    socket.send(frame);
    const answer = await socket.answer<BatchProducedMessage>(41);
    expect(answer).toEqual({ type: 'produced', id: 41, partition: 1, base_offset: 0, record_count: 3, log_append_time: -1 });

    // Stored bytes are the sent bytes: only baseOffset and the leader epoch (outside the CRC) are the broker's.
    const stored = (await harness.broker.fetch('bin', 1, 0, { maxBytes: 1 << 20 })).bytes;
    const sentBatch = frame.subarray(produceFrameHeaderBytes(produceTopicBytes('bin')));
    expect(stored.length).toBe(sentBatch.length);
    expect(stored.subarray(MAGIC_OFFSET).equals(sentBatch.subarray(MAGIC_OFFSET))).toBe(true);

    const reader = await TestSocket.open(harness.port);
    reader.send({ type: 'subscribe', id: 's', topic: 'bin', partitions: [{ partition: 1, from: 'earliest' }] });
    const subscribed = await reader.answer<SubscribedMessage>('s');
    const pushed = await reader.jsonRecords(subscribed.subscription, 3);
    expect(pushed.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers])).toEqual([
      [0, 1_000, 'k', 'héllo', [{ key: 'h', value: 'v' }]],
      [1, 900, null, { base64: Buffer.from([0xff, 0x00, 0xfe]).toString('base64') }, [{ key: 'trace', value: null }]],
      [2, 1_100, 'gone', null, []],
    ]);
    socket.close();
    reader.close();
  });

  it('takes several Kafka-built batches in one frame, picks a partition for -1, and answers acks 0 at once', async () => {
    await harness.broker.createTopic('kafka-built', { partitions: 3 });
    const socket = await TestSocket.open(harness.port);
    const now = BigInt(Date.now());
    const batches = Buffer.concat([buildBatch([{ value: Buffer.from('a'), timestamp: now }, { value: Buffer.from('b'), timestamp: now }]), buildBatch([{ value: Buffer.from('c'), timestamp: now }])]);
    socket.send(frameOf(1, 'kafka-built', 2, -1, batches));
    expect(await socket.answer<BatchProducedMessage>(1)).toMatchObject({ partition: 2, base_offset: 0, record_count: 3 });
    const read = await harness.broker.fetch('kafka-built', 2, 0, { maxBytes: 1 << 20 });
    expect(decodeBatches(read.bytes).flatMap((batch) => batch.records.map((r) => [Number(r.offset), r.value?.toString()]))).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);

    socket.send(clientFrame(2, 'kafka-built', PARTITION_ANY, [{ value: 'anywhere' }]));
    const anywhere = await socket.answer<BatchProducedMessage>(2);
    expect(anywhere.partition).toBeGreaterThanOrEqual(0);
    expect(anywhere.partition).toBeLessThan(3);
    expect(harness.broker.describeTopic('kafka-built').partitions[anywhere.partition]!.logEndOffset).toBeGreaterThan(0);

    const before = harness.broker.describeTopic('kafka-built').partitions[0]!.logEndOffset;
    socket.send(clientFrame(3, 'kafka-built', 0, [{ value: 'fire' }, { value: 'forget' }], 0));
    expect(await socket.answer<BatchProducedMessage>(3)).toMatchObject({ base_offset: -1 });
    socket.send({ type: 'ping', id: 'after' });
    await socket.answer('after');
    expect(harness.broker.describeTopic('kafka-built').partitions[0]!.logEndOffset).toBe(before + 2);
    socket.close();
  });

  it('answers every malformed frame with an error in the protocol terms, and the socket and the log carry on', async () => {
    await harness.broker.createTopic('strict', { partitions: 1 });
    await harness.broker.createTopic('tiny', { configs: { 'max.message.bytes': '200' } });
    const socket = await TestSocket.open(harness.port, 'encoding=binary');
    const bystander = await TestSocket.open(harness.port);
    const good = (id: number): Buffer => clientFrame(id, 'strict', 0, [{ value: 'fine' }]);
    const expectError = async (id: number | undefined, frame: Buffer, errorName: string): Promise<ErrorMessage> => {
      socket.send(frame);
      const answer = await socket.take<ErrorMessage>((m) => isMessage(m) && m.type === 'error' && m.id === id, `error for ${id}`);
      expect(answer).toMatchObject({ error_name: errorName });
      // The socket carries on: a good frame right after is appended.
      socket.send(good(id === undefined ? 9_999 : id + 1_000));
      expect(await socket.answer<BatchProducedMessage>(id === undefined ? 9_999 : id + 1_000)).toMatchObject({ type: 'produced', record_count: 1 });
      return answer;
    };
    const mutate = (frame: Buffer, change: (frame: Buffer) => void): Buffer => {
      const copy = Buffer.from(frame);
      change(copy);
      return copy;
    };
    const batchAt = produceFrameHeaderBytes(produceTopicBytes('strict'));

    await expectError(undefined, Buffer.from([2, 1, 0]), 'INVALID_REQUEST');
    expect((await expectError(1, good(1).subarray(0, PRODUCE_FRAME_HEADER_BYTES - 2), 'INVALID_REQUEST')).message).toMatch(/shorter than its 16-byte header/);
    await expectError(2, mutate(good(2), (f) => f.writeUInt8(1, FRAME_TYPE_OFFSET)), 'INVALID_REQUEST');
    await expectError(3, mutate(good(3), (f) => f.writeUInt8(9, FRAME_VERSION_OFFSET)), 'INVALID_REQUEST');
    await expectError(4, mutate(good(4), (f) => f.writeUInt16BE(1, FRAME_FLAGS_OFFSET)), 'INVALID_REQUEST');
    await expectError(5, mutate(good(5), (f) => f.writeUInt16BE(0, PRODUCE_TOPIC_LENGTH_OFFSET)), 'INVALID_REQUEST');
    expect((await expectError(6, mutate(good(6), (f) => f.writeUInt16BE(200, PRODUCE_TOPIC_LENGTH_OFFSET)), 'INVALID_REQUEST')).message).toMatch(/runs past the end/);
    expect((await expectError(7, good(7).subarray(0, batchAt), 'INVALID_REQUEST')).message).toMatch(/no record batches/);
    await expectError(8, mutate(good(8), (f) => f.writeInt16BE(2, PRODUCE_ACKS_OFFSET)), 'INVALID_REQUIRED_ACKS');
    await expectError(9, clientFrame(9, 'missing', 0, [{ value: 'x' }]), 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError(10, clientFrame(10, 'strict', 4, [{ value: 'x' }]), 'UNKNOWN_TOPIC_OR_PARTITION');
    // Batch errors are the Kafka door's: one validation for both doors.
    await expectError(11, good(11).subarray(0, good(11).length - 3), 'CORRUPT_MESSAGE');
    await expectError(12, mutate(good(12), (f) => f.writeInt32BE(5_000, batchAt + LENGTH_OFFSET)), 'CORRUPT_MESSAGE');
    await expectError(13, mutate(good(13), (f) => f.writeUInt8(f.readUInt8(f.length - 2) ^ 0x01, f.length - 2)), 'CORRUPT_MESSAGE');
    await expectError(14, mutate(good(14), (f) => f.writeInt32BE(0, batchAt + CRC_OFFSET)), 'CORRUPT_MESSAGE');
    await expectError(15, mutate(good(15), (f) => f.writeInt8(1, batchAt + MAGIC_OFFSET)), 'UNSUPPORTED_FOR_MESSAGE_FORMAT');
    await expectError(16, mutate(good(16), (f) => f.writeInt8(3, batchAt + MAGIC_OFFSET)), 'CORRUPT_MESSAGE');
    await expectError(17, clientFrame(17, 'tiny', 0, [{ value: 'x'.repeat(300) }]), 'MESSAGE_TOO_LARGE');
    await expectError(18, mutate(good(18), (f) => f.writeInt32BE(-2, 8)), 'INVALID_REQUEST');
    expect(good(0).length).toBeGreaterThan(batchAt + RECORDS_OFFSET);

    // Only good frames reached the log, in order.
    const stored = await harness.broker.fetchRecords('strict', 0, 0, { maxBytes: 1 << 20 });
    expect(stored.records.map((r) => r.value?.toString())).toEqual(Array.from({ length: 19 }, () => 'fine'));
    bystander.send({ type: 'ping', id: 'bystander' });
    await bystander.answer('bystander');

    // A frame over payloadBytesMax closes that socket only (uWS's limit, as for JSON).
    socket.send(clientFrame(19, 'strict', 0, [{ value: new Uint8Array(65 * KIB) }]));
    expect(await socket.closed()).toBe(1006);
    bystander.send({ type: 'ping', id: 'still' });
    await bystander.answer('still');
    bystander.close();
  });

  it('creates the topic first where the broker auto-creates topics, as JSON produce does', async () => {
    const autoCreating = await startDoor({}, true);
    try {
      const socket = await TestSocket.open(autoCreating.port, 'encoding=binary');
      socket.send(clientFrame(1, 'born-binary', PARTITION_ANY, [{ value: 'first' }]));
      expect(await socket.answer<BatchProducedMessage>(1)).toMatchObject({ base_offset: 0, record_count: 1 });
      socket.send({ type: 'produce', id: 'json', topic: 'born-binary', records: [{ value: 'second', partition: 0 }] });
      expect((await socket.answer<ProducedMessage>('json')).results[0]).toMatchObject({ partition: 0 });
      expect(autoCreating.broker.describeTopic('born-binary').partitions.length).toBe(autoCreating.broker.defaultPartitionCount);
      socket.close();
    } finally {
      await autoCreating.close();
    }
  });
});
