import { describe, it, expect } from 'vitest';
import { gzipSync } from 'node:zlib';
import { decodeBatch, decodeBatches, recordsRegion, type DecodedRecord } from '../../src/storage/records.js';
import { buildBatch } from '../../src/storage/batch-builder.js';
import { crc32cReference } from '../../src/storage/crc32c-reference.js';
import {
  ATTRIBUTES_OFFSET,
  CRC_OFFSET,
  CompressionCodec,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
} from '../../src/storage/record-batch.js';
import { FerryError, type ErrorName } from '../../src/errors.js';
import { KAFKAJS_COMPRESSION as KafkajsCompression, kafkajsEncodeBatch, type KafkajsBatchInput, type KafkajsRecordInput } from './kafkajs-oracle.js';

const kafkajsBatch = (input: KafkajsBatchInput): Promise<Buffer> => kafkajsEncodeBatch(input);

function catchFerry(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof FerryError)) throw new Error(`expected a FerryError, got ${String(error)}`, { cause: error });
    return error;
  }
  throw new Error('expected a FerryError, nothing was thrown');
}

function expectFerry(fn: () => unknown, name: ErrorName, messagePart?: string): void {
  const error = catchFerry(fn);
  expect(error.errorName).toBe(name);
  if (messagePart !== undefined) expect(error.message).toContain(messagePart);
}

/** A v2 batch around an arbitrary records region, with a correct length and CRC. */
function rawBatch(region: Buffer, recordCount: number, attributes = 0): Buffer {
  const batch = Buffer.concat([buildBatch([]), region]);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, LENGTH_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(recordCount, RECORDS_COUNT_OFFSET);
  batch.writeUInt32BE(crc32cReference(batch, ATTRIBUTES_OFFSET, batch.length), CRC_OFFSET);
  return batch;
}

/** Zigzag LEB128 of a small int, for hand-built records. */
function varint(value: number): number[] {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push((zigzag & 0x7f) | 0x80);
    zigzag >>>= 7;
  }
  bytes.push(zigzag);
  return bytes;
}

/** One record from raw field bytes, with the length prefix computed. */
function rawRecord(body: number[]): number[] {
  return [...varint(body.length), ...body];
}

const FIRST_TIMESTAMP = 1_700_000_000_000;

const sampleRecords: KafkajsRecordInput[] = [
  { offsetDelta: 0, timestampDelta: 0, key: Buffer.from('key-0'), value: Buffer.from('value-0'), headers: { trace: Buffer.from('abc') } },
  { offsetDelta: 1, timestampDelta: 5, key: null, value: Buffer.from('no key') },
  { offsetDelta: 2, timestampDelta: -3, key: Buffer.from('tombstone'), value: null },
  { offsetDelta: 3, timestampDelta: 2 ** 33, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: { 'ключ-🚢': Buffer.from('unicode'), empty: Buffer.alloc(0) } },
  { offsetDelta: 4, timestampDelta: -(2 ** 40), key: null, value: null, headers: { dup: [Buffer.from('one'), Buffer.from('two')], z: 'str' } },
  { offsetDelta: 5, timestampDelta: 2 ** 60, key: Buffer.from([0, 255]), value: Buffer.alloc(300, 7) },
];

function expectedRecords(base: bigint, records: KafkajsRecordInput[]): DecodedRecord[] {
  return records.map((record) => ({
    offset: base + BigInt(record.offsetDelta),
    timestamp: BigInt(FIRST_TIMESTAMP) + BigInt(record.timestampDelta),
    key: record.key,
    value: record.value,
    headers: Object.entries(record.headers ?? {}).flatMap(([key, value]) =>
      (Array.isArray(value) ? value : [value]).map((one) => ({ key, value: Buffer.from(one) })),
    ),
  }));
}

describe('decoding batches kafkajs encodes', () => {
  for (const [name, compression] of [
    ['uncompressed', KafkajsCompression.None],
    ['gzip', KafkajsCompression.GZIP],
  ] as const) {
    it(`${name}: keys, values, headers, nulls, large and negative timestamp deltas`, async () => {
      const buf = await kafkajsBatch({
        compression,
        firstOffset: 1234n,
        firstTimestamp: FIRST_TIMESTAMP,
        maxTimestamp: FIRST_TIMESTAMP + 2 ** 60,
        partitionLeaderEpoch: 9,
        lastOffsetDelta: sampleRecords.length - 1,
        transactional: true,
        producerId: 42n,
        producerEpoch: 3,
        firstSequence: 17,
        records: sampleRecords,
      });
      const batch = decodeBatch(buf);
      expect(batch).toMatchObject({
        baseOffset: 1234n,
        lastOffset: 1234n + BigInt(sampleRecords.length - 1),
        partitionLeaderEpoch: 9,
        compression: compression === KafkajsCompression.GZIP ? CompressionCodec.Gzip : CompressionCodec.None,
        isControl: false,
        isTransactional: true,
        timestampType: 'CreateTime',
        baseTimestamp: BigInt(FIRST_TIMESTAMP),
        maxTimestamp: BigInt(FIRST_TIMESTAMP) + 2n ** 60n,
        producerId: 42n,
        producerEpoch: 3,
        baseSequence: 17,
      });
      expect(batch.records).toEqual(expectedRecords(1234n, sampleRecords));
    });
  }

  it('LogAppendTime: every record carries the batch maxTimestamp', async () => {
    const buf = await kafkajsBatch({
      firstTimestamp: FIRST_TIMESTAMP,
      maxTimestamp: FIRST_TIMESTAMP + 10,
      lastOffsetDelta: 2,
      records: sampleRecords.slice(0, 3),
    });
    // kafkajs never sets the timestamp-type bit; set it as a broker would.
    buf.writeInt16BE(buf.readInt16BE(ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
    const logAppendTime = 1_800_000_000_000n;
    buf.writeBigInt64BE(logAppendTime, MAX_TIMESTAMP_OFFSET);
    const batch = decodeBatch(buf);
    expect(batch.timestampType).toBe('LogAppendTime');
    expect(batch.maxTimestamp).toBe(logAppendTime);
    expect(batch.records.map((record) => record.timestamp)).toEqual([logAppendTime, logAppendTime, logAppendTime]);
  });
});

describe('decodeBatches', () => {
  it('decodes every whole batch and ignores a partial one at the end', async () => {
    const first = await kafkajsBatch({ firstOffset: 0n, firstTimestamp: FIRST_TIMESTAMP, maxTimestamp: FIRST_TIMESTAMP, lastOffsetDelta: 1, records: sampleRecords.slice(0, 2) });
    const second = buildBatch([{ value: Buffer.from('b') }], { baseOffset: 2n, compression: CompressionCodec.Zstd, now: () => 5n });
    const third = buildBatch([{ value: Buffer.from('c') }], { baseOffset: 3n, compression: CompressionCodec.Lz4, now: () => 5n });
    const whole = Buffer.concat([first, second, third]);
    expect(decodeBatches(whole).map((batch) => batch.baseOffset)).toEqual([0n, 2n, 3n]);
    for (let cut = 1; cut < third.length; cut++) {
      const partial = Buffer.concat([first, second, third.subarray(0, cut)]);
      expect(decodeBatches(partial).map((batch) => batch.baseOffset)).toEqual([0n, 2n]);
    }
    expect(decodeBatches(Buffer.alloc(0))).toEqual([]);
  });

  it('rejects a length that cannot be a batch', () => {
    const bad = Buffer.concat([buildBatch([{ value: null }], { now: () => 0n }), Buffer.alloc(LOG_OVERHEAD)]);
    bad.writeInt32BE(3, bad.length - 4);
    expectFerry(() => decodeBatches(bad), 'CORRUPT_MESSAGE', 'header');
  });
});

describe('recordsRegion', () => {
  const records = [{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 10n }, { value: Buffer.alloc(5000, 1), timestamp: 11n }];
  const plain = buildBatch(records);

  it('is a view of the records bytes of an uncompressed batch', () => {
    const region = recordsRegion(plain);
    expect(region.equals(plain.subarray(RECORDS_OFFSET))).toBe(true);
    expect(region.buffer).toBe(plain.buffer);
  });

  it('is the decompressed records bytes otherwise, at an offset inside a larger buffer', () => {
    for (const codec of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
      const compressed = buildBatch(records, { compression: codec });
      const buf = Buffer.concat([plain, compressed]);
      expect(recordsRegion(buf, plain.length).equals(plain.subarray(RECORDS_OFFSET))).toBe(true);
    }
  });
});

describe('malformed input is CORRUPT_MESSAGE, never a RangeError or a hang', () => {
  const good = buildBatch(
    [
      { key: Buffer.from('key'), value: Buffer.from('value'), headers: [{ key: 'h', value: Buffer.from('v') }], timestamp: 1n },
      { key: null, value: Buffer.alloc(200, 3), headers: [{ key: 'n', value: null }], timestamp: 2n },
    ],
    { baseOffset: 100n },
  );

  it('a batch truncated anywhere', () => {
    for (let cut = 0; cut < good.length; cut++) {
      expectFerry(() => decodeBatch(good.subarray(0, cut)), 'CORRUPT_MESSAGE', 'batch at byte 0');
    }
  });

  it('a start position past the end', () => {
    expectFerry(() => decodeBatch(good, good.length + 5), 'CORRUPT_MESSAGE');
    expectFerry(() => decodeBatch(good, -1), 'CORRUPT_MESSAGE');
  });

  it('a huge or negative batch length', () => {
    for (const length of [0x7fffffff, -1, -2147483648, 10]) {
      const bad = Buffer.from(good);
      bad.writeInt32BE(length, LENGTH_OFFSET);
      expectFerry(() => decodeBatch(bad), 'CORRUPT_MESSAGE');
    }
  });

  it('a magic other than 2', () => {
    const bad = Buffer.from(good);
    bad[MAGIC_OFFSET] = 1;
    expectFerry(() => decodeBatch(bad), 'CORRUPT_MESSAGE', 'magic 1');
  });

  it('a negative or impossible record count', () => {
    for (const count of [-1, 3, 1_000_000, 0x7fffffff]) {
      const bad = Buffer.from(good);
      bad.writeInt32BE(count, RECORDS_COUNT_OFFSET);
      expectFerry(() => decodeBatch(bad), 'CORRUPT_MESSAGE');
    }
    const fewer = Buffer.from(good);
    fewer.writeInt32BE(1, RECORDS_COUNT_OFFSET);
    expectFerry(() => decodeBatch(fewer), 'CORRUPT_MESSAGE', 'left over');
  });

  // attributes 0, timestampDelta 0, offsetDelta 0
  const prefix = [0, 0, 0];

  const cases: Array<[string, number[], string]> = [
    ['a varint running off the end', rawRecord([...prefix, ...varint(-1), ...varint(-1), 0x80, 0x80, 0x80]), 'header count varint runs past the end'],
    ['a varint longer than 5 bytes', rawRecord([0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 0]), 'offsetDelta varint longer than 5 bytes'],
    ['a record length running off the end', [...varint(50), ...prefix, 0, 0, 0, 0], 'record length 50'],
    ['a negative record length', [...varint(-1), ...prefix, 0, 0, 0], 'record length -1'],
    ['a key length of -2', rawRecord([...prefix, ...varint(-2), ...varint(-1), 0]), 'negative record key length -2'],
    ['a value length of -7', rawRecord([...prefix, ...varint(-1), ...varint(-7), 0]), 'negative record value length -7'],
    ['a huge key length', rawRecord([...prefix, 0xfe, 0xff, 0xff, 0xff, 0x0f, ...varint(-1), 0]), 'record key length 2147483647'],
    ['a key running into the next field', rawRecord([...prefix, ...varint(10), 1, 2, 3]), 'record key length 10'],
    ['a negative header count', rawRecord([...prefix, ...varint(-1), ...varint(-1), ...varint(-3)]), 'negative header count'],
    ['a huge header count', rawRecord([...prefix, ...varint(-1), ...varint(-1), 0xfe, 0xff, 0xff, 0xff, 0x0f]), 'header count'],
    ['a null header key', rawRecord([...prefix, ...varint(-1), ...varint(-1), ...varint(1), ...varint(-1), ...varint(-1)]), 'negative header key length'],
    ['a header value of length -9', rawRecord([...prefix, ...varint(-1), ...varint(-1), ...varint(1), ...varint(1), 0x61, ...varint(-9)]), 'negative header value length -9'],
    ['fields ending before the record length', [...varint(7), ...prefix, ...varint(-1), ...varint(-1), 0, 0x42], 'end 1 bytes early'],
    ['fields running past the record length', [...varint(5), ...prefix, ...varint(-1), ...varint(-1), 0], 'header count varint runs past the end'],
    ['a timestampDelta varlong longer than 10 bytes', rawRecord([0, ...Array<number>(10).fill(0xff), 1, 0, 1, 1, 0]), 'longer than 10 bytes'],
  ];
  for (const [name, region, message] of cases) {
    it(name, () => {
      expectFerry(() => decodeBatch(rawBatch(Buffer.from(region), 1)), 'CORRUPT_MESSAGE', message);
    });
    it(`${name}, inside a gzip batch`, () => {
      const batch = rawBatch(gzipSync(Buffer.from(region)), 1, CompressionCodec.Gzip);
      expectFerry(() => decodeBatch(batch), 'CORRUPT_MESSAGE', 'decompressed records of batch at byte 0');
    });
  }

  it('a hand-built record with every field decodes (the cases above are one fault away from it)', () => {
    const region = rawRecord([...prefix, ...varint(1), 0x6b, ...varint(-1), ...varint(1), ...varint(1), 0x61, ...varint(-1)]);
    const batch = decodeBatch(rawBatch(Buffer.from(region), 1));
    expect(batch.records).toEqual([{ offset: 0n, timestamp: -1n, key: Buffer.from('k'), value: null, headers: [{ key: 'a', value: null }] }]);
  });

  it('corrupt compressed records', () => {
    const gzip = buildBatch([{ value: Buffer.alloc(1000, 1) }], { compression: CompressionCodec.Gzip, now: () => 0n });
    gzip.fill(0x55, RECORDS_OFFSET + 12, RECORDS_OFFSET + 20);
    expectFerry(() => decodeBatch(gzip), 'CORRUPT_MESSAGE', 'gzip');
  });

  it('an unknown codec is UNSUPPORTED_COMPRESSION_TYPE', () => {
    for (const codec of [5, 6, 7]) {
      const bad = Buffer.from(good);
      bad.writeInt16BE(codec, ATTRIBUTES_OFFSET);
      expectFerry(() => decodeBatch(bad), 'UNSUPPORTED_COMPRESSION_TYPE');
      expectFerry(() => recordsRegion(bad), 'UNSUPPORTED_COMPRESSION_TYPE');
    }
  });

  it('a decompression bomb is stopped at the limit', () => {
    const bomb = buildBatch([{ value: Buffer.alloc(8 * 1024 * 1024) }], { compression: CompressionCodec.Zstd, now: () => 0n });
    expect(bomb.length).toBeLessThan(4096);
    expectFerry(() => decodeBatch(bomb, 0, 1024 * 1024), 'CORRUPT_MESSAGE', 'limit');
    expectFerry(() => recordsRegion(bomb, 0, 1024 * 1024), 'CORRUPT_MESSAGE', 'limit');
    expect(decodeBatch(bomb).records[0]!.value!.length).toBe(8 * 1024 * 1024);
  });

  it('random corruption of the records region only ever throws FerryError', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const records = decodeBatch(good).records.map((record) => ({ ...record, offsetDelta: Number(record.offset - 100n) }));
    const bases = [good, ...[CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd].map((codec) => buildBatch(records, { compression: codec }))];
    let threw = 0;
    for (let i = 0; i < 5000; i++) {
      const bad = Buffer.from(bases[i % bases.length]!);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) bad[RECORDS_OFFSET + Math.floor(random() * (bad.length - RECORDS_OFFSET))] = Math.floor(random() * 256);
      try {
        decodeBatch(bad);
      } catch (error) {
        expect(error).toBeInstanceOf(FerryError);
        threw++;
      }
    }
    expect(threw).toBeGreaterThan(0);
  });
});
