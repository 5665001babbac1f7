/**
 * Contract tests for the WASM storage core against independent oracles:
 * crc32cReference for CRC32C, kafkajs's own RecordBatch encoder for valid
 * batches, a hand encoder for broken ones, JS models for the key map and the
 * index searches, and a BigInt xxHash64 plus published vectors for the hash.
 */

import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32cReference } from '../../src/storage/crc32c-reference.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  MAGIC_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
} from '../../src/storage/record-batch.js';
import {
  CRC_STAGING_BYTES_MAX,
  KEYMAP_DECISION,
  WASM_BATCH_ERRORS,
  WASM_CHECK,
  batchErrorName,
  wasmCore,
} from '../../src/storage/wasm-core.js';
import { prng } from './helpers.js';
import { kafkajsEncodeBatch } from './kafkajs-oracle.js';

// ---- deterministic randomness ------------------------------------------------

function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = randomInt(random, 256);
  return bytes;
}

// ---- kafkajs's encoder -------------------------------------------------------

const GZIP = 1;
const BASE_TIMESTAMP = 1_700_000_000_000;

interface TestRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}

/** Records with keys and values sometimes null, from a pool of `keyPool` keys. */
function makeRecords(count: number, seed: number, keyPool = 1 << 30, valueBytes = 40): TestRecord[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const keyed = i % 7 !== 3;
    const key = keyed ? Buffer.from(`key-${randomInt(random, keyPool)}`) : null;
    const value = i % 5 === 4 ? null : Buffer.from(randomBytes(random, randomInt(random, valueBytes)));
    const headers: Record<string, Buffer | Buffer[]> =
      i % 3 === 0 ? {} : { trace: Buffer.from(`t${i}`), multi: [Buffer.from('a'), Buffer.alloc(0)] };
    return { key, value, headers };
  });
}

function kafkajsBatch(records: TestRecord[], compression = 0): Promise<Buffer> {
  return kafkajsEncodeBatch({
    compression,
    firstTimestamp: BASE_TIMESTAMP,
    maxTimestamp: BASE_TIMESTAMP + records.length,
    partitionLeaderEpoch: 7,
    lastOffsetDelta: records.length - 1,
    records: records.map((record, i) => ({ ...record, offsetDelta: i, timestampDelta: i })),
  });
}

// ---- a hand encoder, for batches kafkajs will not build ----------------------

function varint(value: number): number[] {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  const out: number[] = [];
  while (zigzag >= 0x80) {
    out.push((zigzag & 0x7f) | 0x80);
    zigzag >>>= 7;
  }
  out.push(zigzag);
  return out;
}

function bytesField(bytes: Uint8Array | null): number[] {
  return bytes === null ? varint(-1) : [...varint(bytes.length), ...bytes];
}

interface HandRecord {
  offsetDelta: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Array<[Uint8Array, Uint8Array | null]>;
}

function handRecord(record: HandRecord): number[] {
  const headers = record.headers ?? [];
  const body = [
    0,
    ...varint(record.offsetDelta), // timestampDelta: a small varlong encodes as a varint
    ...varint(record.offsetDelta),
    ...bytesField(record.key),
    ...bytesField(record.value),
    ...varint(headers.length),
    ...headers.flatMap(([key, value]) => [...bytesField(key), ...bytesField(value)]),
  ];
  return [...varint(body.length), ...body];
}

/** A batch around a records region, with a correct CRC over whatever it holds. */
function handBatch(records: number[], recordCount: number, lastOffsetDelta: number): Buffer {
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + records.length);
  batch.writeInt32BE(batch.length - 12, LENGTH_OFFSET);
  batch.writeInt8(2, MAGIC_OFFSET);
  batch.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  batch.writeBigInt64BE(-1n, PRODUCER_ID_OFFSET);
  batch.writeInt32BE(recordCount, RECORDS_COUNT_OFFSET);
  Buffer.from(records).copy(batch, BATCH_HEADER_BYTES);
  return withFreshCrc(batch);
}

function withFreshCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32cReference(batch, ATTRIBUTES_OFFSET), CRC_OFFSET);
  return batch;
}

const text = (s: string): Uint8Array => Buffer.from(s);

// ---- a BigInt xxHash64, the oracle for the WASM one --------------------------

const MASK64 = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK64;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK64;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK64;
const round = (acc: bigint, input: bigint): bigint => mul(rotl(add(acc, mul(input, P2)), 31n), P1);

function xxh64Reference(bytes: Uint8Array, seed: bigint): bigint {
  const data = Buffer.from(bytes);
  let at = 0;
  let h: bigint;
  if (data.length >= 32) {
    const v = [add(add(seed, P1), P2), add(seed, P2), seed, (seed - P1) & MASK64];
    for (; data.length - at >= 32; at += 32) {
      for (let lane = 0; lane < 4; lane++) v[lane] = round(v[lane]!, data.readBigUInt64LE(at + lane * 8));
    }
    h = add(add(rotl(v[0]!, 1n), rotl(v[1]!, 7n)), add(rotl(v[2]!, 12n), rotl(v[3]!, 18n)));
    for (const lane of v) h = add(mul(h ^ round(0n, lane), P1), P4);
  } else {
    h = add(seed, P5);
  }
  h = add(h, BigInt(data.length));
  for (; data.length - at >= 8; at += 8) h = add(mul(rotl(h ^ round(0n, data.readBigUInt64LE(at)), 27n), P1), P4);
  if (data.length - at >= 4) {
    h = add(mul(rotl(h ^ mul(BigInt(data.readUInt32LE(at)), P1), 23n), P2), P3);
    at += 4;
  }
  for (; at < data.length; at++) h = mul(rotl(h ^ mul(BigInt(data[at]!), P5), 11n), P1);
  h = mul(h ^ (h >> 33n), P2);
  h = mul(h ^ (h >> 29n), P3);
  return h ^ (h >> 32n);
}

// ---- tests -------------------------------------------------------------------

describe('crc32c', () => {
  it('has the CRC32C check value', () => {
    expect(wasmCore.crc32c(text('123456789'))).toBe(0xe3069283);
    expect(wasmCore.crc32c(new Uint8Array(0))).toBe(0);
  });

  it('equals crc32cReference for random sizes and offsets', () => {
    const random = prng(1);
    const buffer = randomBytes(random, 70_000);
    for (let i = 0; i < 300; i++) {
      const start = randomInt(random, 64);
      const end = start + randomInt(random, i < 200 ? 300 : buffer.length - start);
      expect(wasmCore.crc32c(buffer, start, end)).toBe(crc32cReference(buffer, start, end));
    }
  });

  it('crosses the staging chunk size', () => {
    const buffer = randomBytes(prng(2), CRC_STAGING_BYTES_MAX * 2 + 123);
    expect(wasmCore.crc32c(buffer)).toBe(crc32cReference(buffer));
  });

  it('continues from a previous sum', () => {
    const buffer = randomBytes(prng(3), 5000);
    const whole = crc32cReference(buffer);
    for (const split of [0, 1, 15, 16, 17, 2500, 4999, 5000]) {
      const first = wasmCore.crc32c(buffer, 0, split);
      expect(wasmCore.crc32c(buffer, split, buffer.length, first)).toBe(whole);
    }
  });

  it('reads unaligned pointers through raw', () => {
    const buffer = randomBytes(prng(4), 1000);
    const { raw } = wasmCore;
    const mark = raw.arenaMark();
    const ptr = raw.alloc(buffer.length) >>> 0;
    wasmCore.view(ptr, buffer.length).set(buffer);
    for (let skew = 0; skew < 17; skew++) {
      const len = buffer.length - skew;
      expect(raw.crc32c(ptr + skew, len, 0) >>> 0).toBe(crc32cReference(buffer, skew));
    }
    raw.arenaRewind(mark);
  });
});

describe('validateBatch on kafkajs-built batches', () => {
  for (const count of [1, 10, 1000]) {
    it(`validates ${count} records with keys, values and headers present and null`, async () => {
      const batch = await kafkajsBatch(makeRecords(count, count));
      expect(batch.readInt32BE(RECORDS_COUNT_OFFSET)).toBe(count);
      expect(batch.readUInt32BE(CRC_OFFSET)).toBe(wasmCore.crc32c(batch, ATTRIBUTES_OFFSET));
      for (const mode of Object.values(WASM_CHECK)) expect(wasmCore.validateBatch(batch, 0, batch.length, mode)).toBe(0);
      expect(wasmCore.validateRecords(batch.subarray(BATCH_HEADER_BYTES), count, count - 1)).toBe(0);
      expect(wasmCore.batchHasNullKey(batch)).toBe(count > 3);
    });
  }

  it('validates a batch in the middle of a larger buffer', async () => {
    const batch = await kafkajsBatch(makeRecords(10, 5));
    const buffer = Buffer.concat([Buffer.alloc(13, 0xee), batch, Buffer.alloc(7, 0xee)]);
    expect(wasmCore.validateBatch(buffer, 13, 13 + batch.length)).toBe(WASM_BATCH_ERRORS.OK);
  });

  it('checks a gzip batch header-deep, and its records once decompressed', async () => {
    const batch = await kafkajsBatch(makeRecords(50, 6), GZIP);
    expect(wasmCore.validateBatch(batch)).toBe(WASM_BATCH_ERRORS.OK);
    const records = gunzipSync(batch.subarray(BATCH_HEADER_BYTES));
    expect(wasmCore.validateRecords(records, 50, 49)).toBe(WASM_BATCH_ERRORS.OK);
    expect(wasmCore.recordsHaveNullKey(records, 50)).toBe(true);
    expect(() => wasmCore.batchHasNullKey(batch)).toThrow(/compressed/);
    expect(wasmCore.raw.batchHasNullKey(0, 0)).toBe(-WASM_BATCH_ERRORS.TOO_SHORT);
  });

  // baseOffset (bytes 0-7) and partitionLeaderEpoch (12-15) are outside the CRC
  // by design: the broker rewrites them on append. A flip in batchLength (8-11)
  // is a LENGTH_MISMATCH, and from magic (16) onwards every single-bit error is
  // caught by the magic check or the CRC, which detects all single-bit errors.
  it('rejects each of 200 random single-bit flips from batchLength onwards', async () => {
    const batch = await kafkajsBatch(makeRecords(10, 7));
    const random = prng(8);
    for (let i = 0; i < 200; i++) {
      let at: number;
      do at = LENGTH_OFFSET + randomInt(random, batch.length - LENGTH_OFFSET);
      while (at >= PARTITION_LEADER_EPOCH_OFFSET && at < MAGIC_OFFSET);
      const flipped = Buffer.from(batch);
      flipped[at]! ^= 1 << randomInt(random, 8);
      const status = wasmCore.validateBatch(flipped);
      if (at < PARTITION_LEADER_EPOCH_OFFSET) expect(status, `flip at byte ${at}`).toBe(WASM_BATCH_ERRORS.LENGTH_MISMATCH);
      else if (at === MAGIC_OFFSET) expect(status, `flip at byte ${at}`).toBe(WASM_BATCH_ERRORS.BAD_MAGIC);
      else expect(status, `flip at byte ${at}`).toBe(WASM_BATCH_ERRORS.BAD_CRC);
    }
  });

  it('does not see flips in baseOffset and partitionLeaderEpoch', async () => {
    const batch = await kafkajsBatch(makeRecords(10, 9));
    for (const at of [0, 7, 12, 15]) {
      const flipped = Buffer.from(batch);
      flipped[at]! ^= 0x10;
      expect(wasmCore.validateBatch(flipped)).toBe(WASM_BATCH_ERRORS.OK);
    }
  });

  it('calls a truncated batch TOO_SHORT or LENGTH_MISMATCH', async () => {
    const batch = await kafkajsBatch(makeRecords(10, 10));
    for (const len of [0, 1, 12, 60]) expect(wasmCore.validateBatch(batch, 0, len)).toBe(WASM_BATCH_ERRORS.TOO_SHORT);
    for (const len of [61, 62, batch.length - 1]) {
      expect(wasmCore.validateBatch(batch, 0, len)).toBe(WASM_BATCH_ERRORS.LENGTH_MISMATCH);
    }
    const longer = Buffer.concat([batch, Buffer.alloc(1)]);
    expect(wasmCore.validateBatch(longer)).toBe(WASM_BATCH_ERRORS.LENGTH_MISMATCH);
  });

  it('names its codes', () => {
    expect(batchErrorName(WASM_BATCH_ERRORS.BAD_CRC)).toBe('BAD_CRC');
    expect(batchErrorName(-WASM_BATCH_ERRORS.BAD_RECORD)).toBe('BAD_RECORD');
    expect(batchErrorName(99)).toBe('UNKNOWN(99)');
  });
});

describe('validateBatch on hand-made batches', () => {
  const k = text('k');
  const v = text('value');
  const three = (deltas = [0, 1, 2]): number[] => deltas.flatMap((d) => handRecord({ offsetDelta: d, key: k, value: v }));

  it('agrees with kafkajs on the encoding', async () => {
    const records = [{ key: Buffer.from('k'), value: Buffer.from('value'), headers: {} }];
    const fromKafkajs = await kafkajsBatch(records);
    const byHand = handRecord({ offsetDelta: 0, key: k, value: v });
    expect([...fromKafkajs.subarray(BATCH_HEADER_BYTES)]).toEqual(byHand);
  });

  it('accepts null header values, empty keys and empty headers', () => {
    const records = [
      ...handRecord({ offsetDelta: 0, key: new Uint8Array(0), value: null, headers: [[text('h'), null]] }),
      ...handRecord({ offsetDelta: 1, key: null, value: new Uint8Array(0), headers: [[new Uint8Array(0), text('x')]] }),
    ];
    expect(wasmCore.validateBatch(handBatch(records, 2, 1))).toBe(WASM_BATCH_ERRORS.OK);
  });

  it('accepts an empty batch only when lastOffsetDelta allows it', () => {
    expect(wasmCore.validateBatch(handBatch([], 0, -1))).toBe(WASM_BATCH_ERRORS.OK);
    expect(wasmCore.validateBatch(handBatch([], 0, 4))).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
    expect(wasmCore.validateBatch(handBatch([], 0, 4), 0, undefined, WASM_CHECK.STORED)).toBe(WASM_BATCH_ERRORS.OK);
  });

  it('finds structurally broken records behind a valid CRC', () => {
    const valid = three();
    expect(wasmCore.validateBatch(handBatch(valid, 3, 2))).toBe(WASM_BATCH_ERRORS.OK);
    const longer = [...valid];
    longer[0]! += 2; // first record's length + 1: its fields end before its declared end
    expect(wasmCore.validateBatch(handBatch(longer, 3, 2))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    const shorter = [...valid];
    shorter[0]! -= 2;
    expect(wasmCore.validateBatch(handBatch(shorter, 3, 2))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    const keyTooLong = handRecord({ offsetDelta: 0, key: k, value: v });
    keyTooLong[4] = varint(100)[0]!; // key length 100 inside a 12-byte record
    expect(wasmCore.validateBatch(handBatch(keyTooLong, 1, 0))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    const badKeyLength = handRecord({ offsetDelta: 0, key: k, value: v });
    badKeyLength[4] = varint(-2)[0]!;
    expect(wasmCore.validateBatch(handBatch(badKeyLength, 1, 0))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    const nullHeaderKey = handRecord({ offsetDelta: 0, key: k, value: v, headers: [[text('h'), text('x')]] });
    nullHeaderKey[nullHeaderKey.length - 4] = varint(-1)[0]!;
    expect(wasmCore.validateBatch(handBatch(nullHeaderKey, 1, 0))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    const overlongVarint = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    expect(wasmCore.validateBatch(handBatch(overlongVarint, 1, 0))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    expect(wasmCore.validateBatch(handBatch([...valid, 0x00], 3, 2))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
    expect(wasmCore.validateBatch(handBatch(valid.slice(0, -1), 3, 2))).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
  });

  it('only walks records when asked', () => {
    const garbage = handBatch([1, 2, 3, 4], 3, 2);
    expect(wasmCore.validateBatch(garbage, 0, garbage.length, WASM_CHECK.HEADER)).toBe(WASM_BATCH_ERRORS.OK);
    expect(wasmCore.validateBatch(garbage, 0, garbage.length, WASM_CHECK.PRODUCED)).toBe(WASM_BATCH_ERRORS.BAD_RECORD);
  });

  it('finds offset deltas out of sequence', () => {
    expect(wasmCore.validateBatch(handBatch(three([0, 2, 1]), 3, 2))).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
    expect(wasmCore.validateBatch(handBatch(three([1, 2, 3]), 3, 2))).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
    expect(wasmCore.validateBatch(handBatch(three(), 3, 5))).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
    // A cleaned batch keeps its original offsets: gaps are fine at rest, disorder is not.
    const stored = (deltas: number[], last: number): number => {
      const batch = handBatch(three(deltas), 3, last);
      return wasmCore.validateBatch(batch, 0, batch.length, WASM_CHECK.STORED);
    };
    expect(stored([0, 4, 9], 9)).toBe(WASM_BATCH_ERRORS.OK);
    expect(stored([0, 4, 9], 12)).toBe(WASM_BATCH_ERRORS.OK);
    expect(stored([0, 4, 9], 8)).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
    expect(stored([0, 4, 4], 9)).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
    expect(stored([-1, 4, 5], 9)).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
  });

  it('finds a record count that disagrees with the records', () => {
    expect(wasmCore.validateBatch(handBatch(three(), 2, 1))).toBe(WASM_BATCH_ERRORS.BAD_RECORD_COUNT);
    expect(wasmCore.validateBatch(handBatch(three(), 4, 3))).toBe(WASM_BATCH_ERRORS.BAD_RECORD_COUNT);
    expect(wasmCore.validateBatch(handBatch(three(), -1, 2))).toBe(WASM_BATCH_ERRORS.BAD_RECORD_COUNT);
  });

  it('finds a wrong count on a kafkajs batch with its CRC recomputed', async () => {
    const batch = await kafkajsBatch(makeRecords(10, 11));
    batch.writeInt32BE(11, RECORDS_COUNT_OFFSET);
    expect(wasmCore.validateBatch(withFreshCrc(batch))).toBe(WASM_BATCH_ERRORS.BAD_RECORD_COUNT);
  });

  it('finds a wrong offsetDelta on a kafkajs batch with its CRC recomputed', async () => {
    const batch = await kafkajsBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), headers: {} }]);
    const offsetDeltaAt = BATCH_HEADER_BYTES + 3; // length, attributes, timestampDelta(0), offsetDelta
    expect(batch[offsetDeltaAt]).toBe(0);
    batch[offsetDeltaAt] = varint(1)[0]!;
    expect(wasmCore.validateBatch(withFreshCrc(batch))).toBe(WASM_BATCH_ERRORS.BAD_OFFSET_DELTA);
  });

  it('checks magic before the CRC', () => {
    const batch = handBatch(three(), 3, 2);
    batch[MAGIC_OFFSET] = 1;
    expect(wasmCore.validateBatch(withFreshCrc(batch))).toBe(WASM_BATCH_ERRORS.BAD_MAGIC);
  });
});

describe('xxhash64', () => {
  it('matches published vectors', () => {
    expect(wasmCore.xxhash64(text(''))).toBe(0xef46db3751d8e999n);
    expect(wasmCore.xxhash64(text('a'))).toBe(0xd24ec4f1a98c6e5bn);
    expect(wasmCore.xxhash64(text('abc'))).toBe(0x44bc2cf5ad770999n);
    expect(wasmCore.xxhash64(text('Nobody inspects the spammish repetition'))).toBe(0xfbcea83c8a378bf1n);
  });

  it('matches a BigInt reference for every length up to 100 and two seeds', () => {
    const bytes = randomBytes(prng(12), 100);
    for (const seed of [0n, 0x9e3779b97f4a7c15n]) {
      for (let len = 0; len <= 100; len++) {
        expect(wasmCore.xxhash64(bytes.subarray(0, len), seed)).toBe(xxh64Reference(bytes.subarray(0, len), seed));
      }
    }
  });
});

describe('keymap', () => {
  it('agrees with a Map model over 10,000 random keys', () => {
    const random = prng(13);
    const keys = Array.from({ length: 10_000 }, () => randomBytes(random, randomInt(random, 48)));
    const model = new Map<string, bigint>();
    const granted = wasmCore.keymapInit(10_000);
    expect(granted).toBeGreaterThanOrEqual(10_000);
    expect(wasmCore.keymapCapacity()).toBe(granted);
    for (let i = 0; i < 40_000; i++) {
      const key = keys[randomInt(random, keys.length)]!;
      const offset = BigInt(randomInt(random, 2 ** 40));
      const name = Buffer.from(key).toString('hex');
      const isNew = !model.has(name);
      model.set(name, offset > (model.get(name) ?? -1n) ? offset : model.get(name)!);
      expect(wasmCore.keymapPut(key, offset)).toBe(isNew);
    }
    expect(wasmCore.keymapSize()).toBe(model.size);
    for (const key of keys) expect(wasmCore.keymapGet(key)).toBe(model.get(Buffer.from(key).toString('hex')) ?? -1n);
    expect(wasmCore.keymapGet(text('never put, longer than any random key in the pool'))).toBe(-1n);
  });

  it('refuses a new key when full, and clears on re-init', () => {
    const granted = wasmCore.keymapInit(100);
    for (let i = 0; i < granted; i++) wasmCore.keymapPut(text(`key-${i}`), BigInt(i));
    expect(wasmCore.keymapSize()).toBe(granted);
    expect(wasmCore.keymapPut(text('key-0'), 1000n)).toBe(false);
    expect(() => wasmCore.keymapPut(text('one more'), 1n)).toThrow(/key map full/);
    expect(wasmCore.keymapGet(text('key-0'))).toBe(1000n);
    wasmCore.keymapInit(100);
    expect(wasmCore.keymapSize()).toBe(0);
    expect(wasmCore.keymapGet(text('key-0'))).toBe(-1n);
    expect(() => wasmCore.keymapInit(2 ** 30)).toThrow(RangeError);
  });

  /** Model: latest offset per key over batches at consecutive base offsets. */
  function latestOffsets(batches: Array<{ records: TestRecord[]; baseOffset: bigint }>): Map<string, bigint> {
    const latest = new Map<string, bigint>();
    for (const { records, baseOffset } of batches) {
      records.forEach((record, i) => {
        if (record.key !== null) latest.set(record.key.toString(), baseOffset + BigInt(i));
      });
    }
    return latest;
  }

  function expectedDecisions(records: TestRecord[], baseOffset: bigint, latest: Map<string, bigint>): number[] {
    return records.map((record, i) => {
      if (record.key === null) return KEYMAP_DECISION.KEEP;
      const newest = latest.get(record.key.toString()) ?? -1n;
      if (baseOffset + BigInt(i) < newest) return KEYMAP_DECISION.DROP;
      return record.value === null ? KEYMAP_DECISION.KEEP_TOMBSTONE : KEYMAP_DECISION.KEEP;
    });
  }

  it('indexes and selects over kafkajs-built records regions like the model', async () => {
    const first = makeRecords(1000, 14, 60);
    const second = makeRecords(300, 15, 60);
    const batches = [
      { records: first, baseOffset: 5000n, bytes: await kafkajsBatch(first) },
      { records: second, baseOffset: 6000n, bytes: await kafkajsBatch(second) },
    ];
    wasmCore.keymapInit(1300);
    for (const { bytes, records, baseOffset } of batches) {
      expect(wasmCore.keymapIndexRecords(bytes.subarray(BATCH_HEADER_BYTES), records.length, baseOffset)).toBe(
        records.length,
      );
    }
    const latest = latestOffsets(batches);
    expect(wasmCore.keymapSize()).toBe(latest.size);
    for (const [key, offset] of latest) expect(wasmCore.keymapGet(text(key))).toBe(offset);
    for (const { bytes, records, baseOffset } of batches) {
      const decisions = wasmCore.keymapSelectLatest(bytes.subarray(BATCH_HEADER_BYTES), records.length, baseOffset);
      expect([...decisions]).toEqual(expectedDecisions(records, baseOffset, latest));
    }
    const firstDecisions = wasmCore.keymapSelectLatest(batches[0]!.bytes.subarray(BATCH_HEADER_BYTES), 1000, 5000n);
    expect(firstDecisions.filter((d) => d === KEYMAP_DECISION.DROP).length).toBeGreaterThan(800);
  });

  it('keeps records whose key is absent, flags tombstones, keeps null keys', () => {
    wasmCore.keymapInit(10);
    const records = [
      ...handRecord({ offsetDelta: 0, key: text('a'), value: text('1') }),
      ...handRecord({ offsetDelta: 1, key: text('b'), value: null }),
      ...handRecord({ offsetDelta: 2, key: null, value: null }),
      ...handRecord({ offsetDelta: 3, key: text('a'), value: null }),
    ];
    const region = Uint8Array.from(records);
    expect([...wasmCore.keymapSelectLatest(region, 4, 0n)]).toEqual([1, 2, 1, 2]);
    expect(wasmCore.keymapIndexRecords(region, 4, 0n)).toBe(4);
    expect(wasmCore.keymapSize()).toBe(2);
    expect([...wasmCore.keymapSelectLatest(region, 4, 0n)]).toEqual([0, 2, 1, 2]);
  });

  it('reports broken regions as corrupt', () => {
    wasmCore.keymapInit(10);
    const region = Uint8Array.from(handRecord({ offsetDelta: 0, key: text('a'), value: text('1') }));
    expect(() => wasmCore.keymapIndexRecords(region, 2, 0n)).toThrow(/BAD_RECORD_COUNT/);
    expect(() => wasmCore.keymapSelectLatest(region.subarray(0, 5), 1, 0n)).toThrow(/BAD_RECORD/);
    expect(() => wasmCore.keymapSelectLatest(region, -1, 0n)).toThrow(/BAD_RECORD_COUNT/);
  });
});

describe('index search', () => {
  function offsetIndex(keys: number[]): Buffer {
    const entries = Buffer.alloc(keys.length * 8);
    keys.forEach((key, i) => {
      entries.writeInt32BE(key, i * 8);
      entries.writeInt32BE(i * 4096, i * 8 + 4);
    });
    return entries;
  }

  function timeIndex(keys: bigint[]): Buffer {
    const entries = Buffer.alloc(keys.length * 12);
    keys.forEach((key, i) => {
      entries.writeBigInt64BE(key, i * 12);
      entries.writeInt32BE(i, i * 12 + 8);
    });
    return entries;
  }

  function floorModel<T>(keys: T[], target: T): number {
    let found = -1;
    keys.forEach((key, i) => {
      if (key <= target) found = i;
    });
    return found;
  }

  it('indexFloor agrees with a linear scan', () => {
    const random = prng(16);
    for (let round = 0; round < 200; round++) {
      const keys: number[] = [];
      let key = randomInt(random, 100) - 50;
      for (let i = randomInt(random, 120); i > 0; i--) keys.push((key += 1 + randomInt(random, 30)));
      const entries = offsetIndex(keys);
      const first = keys[0] ?? 0;
      const last = keys[keys.length - 1] ?? 0;
      const targets = [first - 1, first, last, last + 1, -(2 ** 31), 2 ** 31 - 1];
      for (let i = 0; i < 20; i++) targets.push(first - 10 + randomInt(random, last - first + 20));
      for (const target of targets) expect(wasmCore.indexFloor(entries, 8, target)).toBe(floorModel(keys, target));
    }
  });

  it('indexFloorI64 agrees with a linear scan, duplicates included', () => {
    const random = prng(17);
    for (let round = 0; round < 200; round++) {
      const keys: bigint[] = [];
      let key = 1_700_000_000_000n * BigInt(randomInt(random, 3) - 1);
      for (let i = randomInt(random, 120); i > 0; i--) keys.push((key += BigInt(randomInt(random, 3) * 1000)));
      const entries = timeIndex(keys);
      const first = keys[0] ?? 0n;
      const last = keys[keys.length - 1] ?? 0n;
      const targets = [first - 1n, first, last, last + 1n, -(2n ** 63n), 2n ** 63n - 1n];
      for (let i = 0; i < 20; i++) targets.push(first - 2000n + BigInt(randomInt(random, Number(last - first) + 4000)));
      for (const target of targets) expect(wasmCore.indexFloorI64(entries, 12, target)).toBe(floorModel(keys, target));
    }
  });

  it('ignores a torn trailing entry', () => {
    const entries = Buffer.concat([offsetIndex([1, 5, 9]), Buffer.from([0, 0, 0])]);
    expect(wasmCore.indexFloor(entries, 8, 6)).toBe(1);
    expect(wasmCore.indexFloor(entries, 8, 100)).toBe(2);
  });
});
