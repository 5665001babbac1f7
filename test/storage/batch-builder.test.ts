import { describe, it, expect } from 'vitest';
import { buildBatch, type RecordInput } from '../../src/storage/batch-builder.js';
import { decodeBatch, type DecodedRecord, type RecordHeader } from '../../src/storage/records.js';
import { crc32cReference } from '../../src/storage/crc32c-reference.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  CRC_OFFSET,
  CompressionCodec,
  batchCrc,
  batchSize,
} from '../../src/storage/record-batch.js';
import { prng } from './helpers.js';
import { KAFKAJS_COMPRESSION as KafkajsCompression, kafkajsDecodeBatch, kafkajsEncodeBatch } from './kafkajs-oracle.js';

/** Headers as kafkajs takes them, Buffers only (what Ferry decodes to). */
type KafkajsHeaders = Record<string, Buffer | Buffer[]>;

interface Message {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestamp: bigint;
}

interface ProducerFields {
  baseOffset: bigint;
  partitionLeaderEpoch: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  isTransactional: boolean;
}

/** kafkajs headers as an ordered header list: the order its encoder writes them in. */
function kafkajsHeaders(headers: RecordHeader[]): KafkajsHeaders {
  const object: KafkajsHeaders = {};
  for (const { key, value } of headers) {
    const existing = object[key];
    const one = value ?? Buffer.alloc(0);
    object[key] = existing === undefined ? one : Array.isArray(existing) ? [...existing, one] : [existing, one];
  }
  return object;
}

/**
 * kafkajs takes headers as an object, so repeated keys come out grouped at the
 * first occurrence and null values are not expressible: shape ours the same
 * for a byte comparison.
 */
function groupedLikeKafkajs(headers: RecordHeader[]): RecordHeader[] {
  return Object.entries(kafkajsHeaders(headers)).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).map((one) => ({ key, value: one })),
  );
}

/**
 * Encode the way kafkajs's producer does (produce/v3/request.js), with its
 * encoder. `first` is the batch's firstTimestamp (kafkajs's producer passes
 * the smallest; Kafka's builder the first record's).
 */
function kafkajsBatch(messages: Message[], fields: ProducerFields, compression: number, first = messages[0]!.timestamp, withHeaders = true): Promise<Buffer> {
  const max = messages.reduce((m, message) => (message.timestamp > m ? message.timestamp : m), -1n);
  return kafkajsEncodeBatch({
    compression,
    firstOffset: fields.baseOffset,
    firstTimestamp: Number(first),
    maxTimestamp: Number(max),
    partitionLeaderEpoch: fields.partitionLeaderEpoch,
    lastOffsetDelta: messages.length - 1,
    transactional: fields.isTransactional,
    producerId: fields.producerId,
    producerEpoch: fields.producerEpoch,
    firstSequence: fields.baseSequence,
    records: messages.map((message, i) => ({
      offsetDelta: i,
      timestampDelta: Number(message.timestamp - first),
      key: message.key,
      value: message.value,
      ...(withHeaders ? { headers: kafkajsHeaders(message.headers) } : {}),
    })),
  });
}

function ourBatch(messages: Message[], fields: ProducerFields, compression: CompressionCodec): Buffer {
  return buildBatch(messages, { ...fields, compression });
}

function expectedRecords(baseOffset: bigint, inputs: readonly RecordInput[], timestampOf: (input: RecordInput) => bigint): DecodedRecord[] {
  return inputs.map((input, i) => ({
    offset: baseOffset + BigInt(input.offsetDelta ?? i),
    timestamp: timestampOf(input),
    key: input.key ?? null,
    value: input.value,
    headers: input.headers ?? [],
  }));
}

/** Records with bytes as hex: vitest compares strings far faster than Buffers element by element. */
function hexRecords(records: DecodedRecord[]): unknown[] {
  const hex = (bytes: Buffer | null): string | null => (bytes === null ? null : bytes.toString('hex'));
  return records.map((record) => ({
    ...record,
    key: hex(record.key),
    value: hex(record.value),
    headers: record.headers.map((header) => ({ key: header.key, value: hex(header.value) })),
  }));
}

const HEADER_KEYS = ['trace-id', 'ключ', '🚢 ferry', 'ä', '', 'x'.repeat(200), '日本語のキー', 'content-type'];
const T0 = 1_700_000_000_000n;

function randomBytesFrom(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (random() * (random() < 0.5 ? 256 : 8)) | 0; // half compressible
  return bytes;
}

function randomNullable(random: () => number, sizeMax: number): Buffer | null {
  if (random() < 0.15) return null;
  return randomBytesFrom(random, Math.floor(random() ** 3 * sizeMax));
}

function randomHeaders(random: () => number): RecordHeader[] {
  const count = random() < 0.3 ? 0 : Math.floor(random() * (random() < 0.1 ? 200 : 6));
  return Array.from({ length: count }, () => ({
    key: HEADER_KEYS[Math.floor(random() * HEADER_KEYS.length)]!,
    value: randomNullable(random, 300),
  }));
}

function randomMessages(random: () => number, count: number): Message[] {
  return Array.from({ length: count }, () => ({
    key: randomNullable(random, 64),
    value: randomNullable(random, 10 * 1024),
    headers: randomHeaders(random),
    timestamp: T0 + BigInt(Math.floor(random() * 100_000) - 20_000),
  }));
}

const FIELDS_VARIANTS: ProducerFields[] = [
  { baseOffset: 0n, partitionLeaderEpoch: 0, producerId: -1n, producerEpoch: 0, baseSequence: 0, isTransactional: false },
  { baseOffset: 987_654_321_012n, partitionLeaderEpoch: 7, producerId: 4242n, producerEpoch: 3, baseSequence: 1000, isTransactional: true },
];

describe('byte-identical to kafkajs’s encoder, uncompressed', () => {
  it('for hand-picked records: null keys and values, repeated and unicode header keys, empty buffers', async () => {
    const messages: Message[] = [
      { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [], timestamp: T0 },
      { key: null, value: Buffer.from('no key'), headers: [{ key: 'trace', value: Buffer.from('abc') }], timestamp: T0 + 1n },
      { key: Buffer.from('gone'), value: null, headers: [], timestamp: T0 + 1n },
      { key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [{ key: 'ключ-🚢', value: Buffer.alloc(0) }], timestamp: T0 + 5_000_000_000n },
      {
        key: Buffer.alloc(64, 1), // 64 and 8192 cross zigzag varint size boundaries
        value: Buffer.alloc(8192, 2),
        headers: [
          { key: 'dup', value: Buffer.from('one') },
          { key: 'dup', value: Buffer.from('two') },
          { key: 'next', value: Buffer.alloc(63, 3) },
        ],
        timestamp: T0 + 5_000_000_000n,
      },
    ];
    for (const fields of FIELDS_VARIANTS) {
      const theirs = await kafkajsBatch(messages, fields, KafkajsCompression.None);
      const ours = ourBatch(messages, fields, CompressionCodec.None);
      expect(ours.toString('hex')).toBe(theirs.toString('hex'));
      expect(batchCrc(ours)).toBe(crc32cReference(ours, ATTRIBUTES_OFFSET, ours.length));
    }
  });

  it('for random records with non-decreasing timestamps', async () => {
    const random = prng(1);
    for (let round = 0; round < 20; round++) {
      const messages = randomMessages(random, 1 + Math.floor(random() * 40))
        .map((message) => ({ ...message, headers: groupedLikeKafkajs(message.headers) }))
        .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
      const fields = FIELDS_VARIANTS[round % 2]!;
      const theirs = await kafkajsBatch(messages, fields, KafkajsCompression.None);
      const ours = ourBatch(messages, fields, CompressionCodec.None);
      expect(ours.equals(theirs)).toBe(true);
      expect(batchCrc(ours)).toBe(crc32cReference(ours, ATTRIBUTES_OFFSET, ours.length));
    }
  });

  // kafkajs's producer takes the SMALLEST timestamp as the batch's
  // firstTimestamp (after a lexicographic sort of the numbers), while Kafka's
  // MemoryRecordsBuilder, which we follow, takes the FIRST record's and lets
  // later deltas go negative. With timestamps out of order the bytes differ
  // in baseTimestamp, the deltas (and so record sizes) and the CRC, but both
  // batches must decode to the same records.
  it('field by field when timestamps go backwards (baseTimestamp: first record, as Kafka; kafkajs: minimum)', async () => {
    const messages: Message[] = [
      { key: Buffer.from('a'), value: Buffer.from('1'), headers: [], timestamp: T0 + 100n },
      { key: Buffer.from('b'), value: Buffer.from('2'), headers: [], timestamp: T0 },
      { key: Buffer.from('c'), value: Buffer.from('3'), headers: [], timestamp: T0 + 50n },
    ];
    const fields = FIELDS_VARIANTS[1]!;
    const sorted = [...messages].sort((a, b) => Number(a.timestamp - b.timestamp));
    // kafkajs's firstTimestamp is the minimum; emulate by handing it the minimum first.
    const theirs = await kafkajsBatchWithFirstTimestamp(messages, fields, sorted[0]!.timestamp);
    const ours = ourBatch(messages, fields, CompressionCodec.None);
    expect(ours.readBigInt64BE(BASE_TIMESTAMP_OFFSET)).toBe(T0 + 100n);
    expect(theirs.readBigInt64BE(BASE_TIMESTAMP_OFFSET)).toBe(T0);
    const a = decodeBatch(ours);
    const b = decodeBatch(theirs);
    expect({ ...a, baseTimestamp: 0n }).toEqual({ ...b, baseTimestamp: 0n });
    expect(a.records.map((record) => record.timestamp)).toEqual(messages.map((message) => message.timestamp));
  });

  it('kafkajs’s decoder reads our batches, uncompressed and gzip', async () => {
    const random = prng(2);
    const messages = randomMessages(random, 30).map((message) => ({
      ...message,
      headers: message.headers.filter((header) => header.value !== null),
    }));
    for (const codec of [CompressionCodec.None, CompressionCodec.Gzip]) {
      const ours = buildBatch(messages, { baseOffset: 500n, compression: codec });
      const decoded = await kafkajsDecodeBatch(ours);
      expect(decoded.firstOffset).toBe('500');
      expect(decoded.lastOffsetDelta).toBe(29);
      decoded.records.forEach((record, i) => {
        const message = messages[i]!;
        expect(record.offset).toBe(String(500 + i));
        expect(record.timestamp).toBe(String(message.timestamp));
        expect(record.key).toEqual(message.key);
        expect(record.value).toEqual(message.value);
        expect(record.headers).toEqual(kafkajsHeaders(message.headers));
      });
    }
  });
});

function kafkajsBatchWithFirstTimestamp(messages: Message[], fields: ProducerFields, first: bigint): Promise<Buffer> {
  return kafkajsBatch(messages, fields, KafkajsCompression.None, first, false);
}

describe('gzip: kafkajs’s and ours decode to the same records', () => {
  it('for the same messages', async () => {
    const random = prng(3);
    const messages = randomMessages(random, 50)
      .map((message) => ({ ...message, headers: groupedLikeKafkajs(message.headers) }))
      .sort((a, b) => Number(a.timestamp - b.timestamp));
    const fields = FIELDS_VARIANTS[1]!;
    const theirs = await kafkajsBatch(messages, fields, KafkajsCompression.GZIP);
    const ours = ourBatch(messages, fields, CompressionCodec.Gzip);
    const a = decodeBatch(ours);
    const b = decodeBatch(theirs);
    expect(a.compression).toBe(CompressionCodec.Gzip);
    expect({ ...a, records: hexRecords(a.records) }).toEqual({ ...b, records: hexRecords(b.records) });
    expect(batchCrc(ours)).toBe(crc32cReference(ours, ATTRIBUTES_OFFSET, ours.length));
  });
});

describe('round trip: buildBatch then decodeBatch', () => {
  const codecs = [
    ['none', CompressionCodec.None],
    ['gzip', CompressionCodec.Gzip],
    ['snappy', CompressionCodec.Snappy],
    ['lz4', CompressionCodec.Lz4],
    ['zstd', CompressionCodec.Zstd],
  ] as const;
  for (const [name, codec] of codecs) {
    it(`${name}: random records`, () => {
      const random = prng(100 + codec);
      for (let round = 0; round < 8; round++) {
        const inputs: RecordInput[] = randomMessages(random, Math.floor(random() * 60));
        const baseOffset = BigInt(Math.floor(random() * 2 ** 40));
        const batch = buildBatch(inputs, { baseOffset, compression: codec, producerId: 9n, producerEpoch: 1, baseSequence: 5 });
        expect(batch.length).toBe(batchSize(batch));
        expect(batchCrc(batch)).toBe(crc32cReference(batch, ATTRIBUTES_OFFSET, batch.length));
        const decoded = decodeBatch(batch);
        expect(decoded.compression).toBe(codec);
        expect(decoded.baseOffset).toBe(baseOffset);
        expect(decoded.lastOffset).toBe(baseOffset + BigInt(Math.max(0, inputs.length - 1)));
        expect(hexRecords(decoded.records)).toEqual(hexRecords(expectedRecords(baseOffset, inputs, (input) => input.timestamp!)));
        if (inputs.length > 0) {
          expect(decoded.baseTimestamp).toBe(inputs[0]!.timestamp);
          expect(decoded.maxTimestamp).toBe(inputs.reduce((m, input) => (input.timestamp! > m ? input.timestamp! : m), -1n));
        }
      }
    });
  }

  it('timestamp deltas across every varlong width, including past 2^52 and int64 extremes', () => {
    const deltas = [0n, 1n, -1n, 63n, -64n, 2n ** 31n, -(2n ** 31n), 2n ** 32n + 7n, 2n ** 51n - 1n, 2n ** 51n, 2n ** 52n, -(2n ** 52n) - 3n, 2n ** 62n, -(2n ** 62n)];
    const inputs: RecordInput[] = deltas.map((delta) => ({ value: Buffer.from(String(delta)), timestamp: delta }));
    const decoded = decodeBatch(buildBatch(inputs));
    expect(decoded.records.map((record) => record.timestamp)).toEqual(deltas);
    const extremes = [{ value: null, timestamp: -(2n ** 63n) }, { value: null, timestamp: 2n ** 63n - 1n }];
    expect(decodeBatch(buildBatch(extremes)).records.map((record) => record.timestamp)).toEqual([-(2n ** 63n), 2n ** 63n - 1n]);
  });
});

describe('header fields and defaults', () => {
  it('defaults: offsets by index, timestamps from one now() call, Kafka’s "no producer" values', () => {
    let calls = 0;
    const now = (): bigint => {
      calls++;
      return 1234n;
    };
    const batch = decodeBatch(buildBatch([{ value: Buffer.from('a') }, { value: Buffer.from('b'), timestamp: 2000n }, { value: null }], { now }));
    expect(calls).toBe(1);
    expect(batch).toMatchObject({
      baseOffset: 0n,
      lastOffset: 2n,
      partitionLeaderEpoch: -1,
      producerId: -1n,
      producerEpoch: -1,
      baseSequence: -1,
      isTransactional: false,
      isControl: false,
      timestampType: 'CreateTime',
      baseTimestamp: 1234n,
      maxTimestamp: 2000n,
    });
    expect(batch.records.map((record) => [record.offset, record.timestamp])).toEqual([
      [0n, 1234n],
      [1n, 2000n],
      [2n, 1234n],
    ]);
  });

  it('timestamps default to Date.now()', () => {
    const before = BigInt(Date.now());
    const batch = decodeBatch(buildBatch([{ value: null }]));
    expect(batch.baseTimestamp).toBeGreaterThanOrEqual(before);
    expect(batch.baseTimestamp).toBeLessThanOrEqual(BigInt(Date.now()));
  });

  it('LogAppendTime: maxTimestamp is the append time and every record reads it', () => {
    const inputs: RecordInput[] = [{ value: null, timestamp: 5n }, { value: null, timestamp: 9n }];
    const batch = decodeBatch(buildBatch(inputs, { timestampType: 'LogAppendTime', now: () => 777n }));
    expect(batch).toMatchObject({ timestampType: 'LogAppendTime', baseTimestamp: 5n, maxTimestamp: 777n });
    expect(batch.records.map((record) => record.timestamp)).toEqual([777n, 777n]);
    const kept = decodeBatch(buildBatch(inputs, { timestampType: 'LogAppendTime', logAppendTime: 555n, now: () => 777n }));
    expect(kept.maxTimestamp).toBe(555n);
  });

  it('control and transactional flags land in attributes', () => {
    const batch = decodeBatch(buildBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { isControl: true, isTransactional: true, producerId: 5n, producerEpoch: 0 }));
    expect(batch).toMatchObject({ isControl: true, isTransactional: true, attributes: 0x30 });
  });

  it('an empty batch is just a header', () => {
    const buf = buildBatch([], { baseOffset: 10n, lastOffsetDelta: 4 });
    expect(buf.length).toBe(BATCH_HEADER_BYTES);
    expect(decodeBatch(buf)).toMatchObject({ baseOffset: 10n, lastOffset: 14n, baseTimestamp: -1n, maxTimestamp: -1n, records: [] });
  });

  it('compaction: a subset keeps its offsets, timestamps and the original lastOffsetDelta', () => {
    const random = prng(7);
    const inputs: RecordInput[] = randomMessages(random, 20);
    for (const codec of [CompressionCodec.None, CompressionCodec.Zstd]) {
      const original = decodeBatch(buildBatch(inputs, { baseOffset: 1000n, compression: codec }));
      const survivors = original.records.filter((_, i) => i % 3 === 1);
      const rewritten = buildBatch(
        survivors.map((record) => ({ ...record, offsetDelta: Number(record.offset - original.baseOffset) })),
        { baseOffset: original.baseOffset, compression: codec, lastOffsetDelta: Number(original.lastOffset - original.baseOffset) },
      );
      const decoded = decodeBatch(rewritten);
      expect(decoded.lastOffset).toBe(original.lastOffset);
      expect(decoded.records).toEqual(survivors);
      expect(decoded.baseTimestamp).toBe(survivors[0]!.timestamp);
    }
  });

  it('offsetDeltas must increase, and lastOffsetDelta must cover them: a caller bug, asserted', () => {
    expect(() => buildBatch([{ value: null, offsetDelta: 2 }, { value: null, offsetDelta: 2 }])).toThrow(/assertion failed/);
    expect(() => buildBatch([{ value: null, offsetDelta: -1 }])).toThrow(/assertion failed/);
    expect(() => buildBatch([{ value: null, offsetDelta: 5 }], { lastOffsetDelta: 4 })).toThrow(/assertion failed/);
  });

  it('the CRC covers attributes to the end', () => {
    const buf = buildBatch([{ value: Buffer.from('x') }], { now: () => 1n });
    expect(buf.readUInt32BE(CRC_OFFSET)).toBe(crc32cReference(buf.subarray(ATTRIBUTES_OFFSET)));
  });
});
