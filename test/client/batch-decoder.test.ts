/**
 * The client's pure batch decoder and base64, checked against the storage
 * layer's decoder (records.ts) and Node's Buffer as oracles.
 */

import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../src/client/base64.js';
import { decodeRecordBatches, DECOMPRESSED_BYTES_MAX_DEFAULT } from '../../src/client/batch-decoder.js';
import { FerryClientError } from '../../src/client/errors.js';
import { buildBatch, type RecordInput } from '../../src/storage/batch-builder.js';
import { CompressionCodec } from '../../src/storage/record-batch.js';
import { decodeBatches } from '../../src/storage/records.js';

const options = (fromOffset = 0): { fromOffset: number; decompressedBytesMax: number } => ({ fromOffset, decompressedBytesMax: DECOMPRESSED_BYTES_MAX_DEFAULT });

function records(count: number, prefix: string): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    key: i % 3 === 0 ? null : Buffer.from(`${prefix}-key-${i}`),
    value: i % 5 === 4 ? null : Buffer.from(`${prefix}-value-${i}-`.repeat(i + 1)),
    headers: i % 2 === 0 ? [{ key: `h${i}`, value: Buffer.from([i, 0xff]) }, { key: 'null', value: null }] : [],
    timestamp: 1_700_000_000_000n + BigInt(i * 7 - 3),
  }));
}

/** What the storage decoder says, in the client's shape. */
function oracle(bytes: Buffer, fromOffset = 0): unknown[] {
  return decodeBatches(bytes)
    .filter((batch) => !batch.isControl)
    .flatMap((batch) => batch.records)
    .filter((record) => record.offset >= BigInt(fromOffset))
    .map((record) => ({
      offset: Number(record.offset),
      timestamp: Number(record.timestamp),
      key: record.key === null ? null : new Uint8Array(record.key),
      value: record.value === null ? null : new Uint8Array(record.value),
      headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : new Uint8Array(h.value) })),
    }));
}

function plain(decoded: Awaited<ReturnType<typeof decodeRecordBatches>>): unknown[] {
  return decoded.map((record) => ({
    ...record,
    key: record.key === null ? null : new Uint8Array(record.key),
    value: record.value === null ? null : new Uint8Array(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : new Uint8Array(h.value) })),
  }));
}

describe('decodeRecordBatches', () => {
  it('decodes uncompressed and gzip batches as the storage decoder does, skipping control batches and records below fromOffset', async () => {
    const bytes = Buffer.concat([
      buildBatch(records(7, 'a'), { baseOffset: 0n }),
      buildBatch(records(1, 'marker'), { baseOffset: 7n, isControl: true }),
      buildBatch(records(12, 'b'), { baseOffset: 8n, compression: CompressionCodec.Gzip }),
      buildBatch(records(3, 'c'), { baseOffset: 20n, timestampType: 'LogAppendTime', logAppendTime: 1_800_000_000_000n }),
    ]);
    expect(plain(await decodeRecordBatches(bytes, options()))).toEqual(oracle(bytes));
    expect(plain(await decodeRecordBatches(bytes, options(10)))).toEqual(oracle(bytes, 10));
    const logAppend = await decodeRecordBatches(bytes, options(20));
    expect(logAppend.map((r) => r.timestamp)).toEqual([1_800_000_000_000, 1_800_000_000_000, 1_800_000_000_000]);
  });

  it('refuses what it cannot read with CORRUPT_MESSAGE or UNSUPPORTED_COMPRESSION_TYPE, never a RangeError', async () => {
    const batch = buildBatch(records(4, 'x'));
    const nameOf = (promise: Promise<unknown>): Promise<string> =>
      promise.then(
        () => 'decoded',
        (error: unknown) => (error instanceof FerryClientError ? error.errorName : String(error)),
      );
    expect(await nameOf(decodeRecordBatches(batch.subarray(0, batch.length - 1), options()))).toBe('CORRUPT_MESSAGE');
    const badMagic = Buffer.from(batch);
    badMagic[16] = 1;
    expect(await nameOf(decodeRecordBatches(badMagic, options()))).toBe('CORRUPT_MESSAGE');
    for (let cut = 61; cut < batch.length; cut += 5) {
      const torn = Buffer.from(batch);
      torn.writeInt32BE(torn.readInt32BE(8) - (batch.length - cut), 8); // a batch that claims fewer record bytes than its records need
      expect(await nameOf(decodeRecordBatches(torn.subarray(0, cut), options()))).toBe('CORRUPT_MESSAGE');
    }
    const snappy = buildBatch(records(2, 's'), { compression: CompressionCodec.Snappy });
    expect(await nameOf(decodeRecordBatches(snappy, options()))).toBe('UNSUPPORTED_COMPRESSION_TYPE');
    const gzip = buildBatch(records(50, 'g'), { compression: CompressionCodec.Gzip });
    expect(await nameOf(decodeRecordBatches(gzip, { fromOffset: 0, decompressedBytesMax: 100 }))).toBe('CORRUPT_MESSAGE');
  });
});

describe('base64', () => {
  it('round-trips every length and agrees with Buffer', () => {
    for (let length = 0; length < 70; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      const encoded = encodeBase64(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
      expect(decodeBase64(encoded)).toEqual(bytes);
    }
  });

  it('refuses what is not padded standard base64', () => {
    for (const bad of ['abc', 'ab!d', 'a===', '-_-_']) expect(() => decodeBase64(bad)).toThrow(FerryClientError);
  });
});
