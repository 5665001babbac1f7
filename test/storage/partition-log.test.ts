import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeBatches } from '../../src/storage/records.js';
import { crc32cReference } from '../../src/storage/crc32c-reference.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { CompressionCodec, ATTRIBUTES_OFFSET, CRC_OFFSET } from '../../src/storage/record-batch.js';
import { config, decodeAll, prng, readAll, tempDir, valuesBatch } from './helpers.js';

afterAll(closeSharedStoragePool);

async function openLog(overrides: Parameters<typeof config>[0] = {}, dir = tempDir(), clock?: () => number): Promise<PartitionLog> {
  return PartitionLog.open({ dir, config: config(overrides), ...(clock ? { clock } : {}) });
}

function expectFerryError(fn: () => unknown, errorName: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).errorName).toBe(errorName);
    return;
  }
  throw new Error(`expected ${errorName}`);
}

async function expectRejects(promise: Promise<unknown>, errorName: string): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => error instanceof FerryError && error.errorName === errorName);
}

describe('append and read', () => {
  it('assigns consecutive offsets by rewriting base offsets, and reads whole batches back byte for byte', async () => {
    const log = await openLog();
    const first = await log.append(valuesBatch('a', 3));
    const second = await log.append(valuesBatch('b', 2));
    expect(first).toMatchObject({ firstOffset: 0, lastOffset: 2, recordCount: 3, logAppendTimeMs: -1 });
    expect(second).toMatchObject({ firstOffset: 3, lastOffset: 4 });
    expect(log.logEndOffset).toBe(5);

    const read = log.read(0, 1 << 20);
    const batches = decodeBatches(read.bytes);
    expect(batches.map((b) => Number(b.baseOffset))).toEqual([0, 3]);
    expect(read.nextOffset).toBe(5);
    expect(decodeAll(read.bytes).map((r) => [Number(r.offset), r.value?.toString()])).toEqual([
      [0, 'a-0'], [1, 'a-1'], [2, 'a-2'], [3, 'b-0'], [4, 'b-1'],
    ]);
    await log.close();
  });

  it('starts at the batch that holds the offset and stops at maxBytes on a batch boundary, always returning one batch', async () => {
    const log = await openLog({ indexIntervalBytes: 100 });
    for (let i = 0; i < 50; i++) await log.append(valuesBatch(`v${i}`, 4, { valueBytes: 50 }));
    const batchBytes = log.read(0, 1).bytes.length;
    const read = log.read(41, batchBytes * 3 + 10);
    const batches = decodeBatches(read.bytes);
    expect(batches.map((b) => Number(b.baseOffset))).toEqual([40, 44, 48]);
    expect(read.bytes.length).toBe(batchBytes * 3);
    expect(read.nextOffset).toBe(52);
    expect(log.read(0, 1).bytes.length).toBe(batchBytes); // smaller maxBytes still returns the first batch whole
    expect(log.read(0, 1, { minOneBatch: false }).bytes.length).toBe(0);
    expect(decodeBatches(log.read(0, 1 << 20, { maxOffset: 8 }).bytes).map((b) => Number(b.baseOffset))).toEqual([0, 4]);
    expect(log.read(200, 100).bytes.length).toBe(0);
    expectFerryError(() => log.read(201, 100), 'OFFSET_OUT_OF_RANGE');
    await log.close();
  });

  it('rejects a corrupt, oversized or malformed batch whole, and writes nothing of it', async () => {
    const log = await openLog({ maxMessageBytes: 2000 });
    await log.append(valuesBatch('ok', 2));
    const sizeBefore = log.sizeBytes;

    const flipped = valuesBatch('x', 3);
    flipped[flipped.length - 5]! ^= 0x10;
    await expectRejects(log.append(flipped), 'CORRUPT_MESSAGE');

    const good = valuesBatch('y', 2);
    const pair = Buffer.concat([good, flipped]); // the first batch is fine, the second is not: neither is written
    await expectRejects(log.append(pair), 'CORRUPT_MESSAGE');

    await expectRejects(log.append(valuesBatch('big', 10, { valueBytes: 300 })), 'MESSAGE_TOO_LARGE');
    await expectRejects(log.append(valuesBatch('short', 2).subarray(0, 40)), 'CORRUPT_MESSAGE');
    await expectRejects(log.append(Buffer.concat([valuesBatch('t', 1), Buffer.alloc(10)])), 'CORRUPT_MESSAGE');

    const skewed = valuesBatch('z', 2);
    skewed.writeInt32BE(5, 23); // lastOffsetDelta no longer matches the two records
    skewed.writeUInt32BE(crc32cReference(skewed, ATTRIBUTES_OFFSET), CRC_OFFSET);
    await expectRejects(log.append(skewed), 'INVALID_RECORD');

    const oldMagic = valuesBatch('m', 1);
    oldMagic.writeInt8(1, 16);
    await expectRejects(log.append(oldMagic), 'UNSUPPORTED_FOR_MESSAGE_FORMAT');

    expect(log.sizeBytes).toBe(sizeBefore);
    expect(log.logEndOffset).toBe(2);
    await log.close();
  });

  it('requires keys on a compacted topic, also inside compressed batches', async () => {
    const log = await openLog({ cleanupCompact: true });
    const { buildBatch } = await import('../../src/storage/batch-builder.js');
    await expectRejects(log.append(buildBatch([{ key: null, value: Buffer.from('v') }])), 'INVALID_RECORD');
    await expectRejects(log.append(buildBatch([{ key: Buffer.from('k'), value: null }, { key: null, value: Buffer.from('v') }], { compression: CompressionCodec.Gzip })), 'INVALID_RECORD');
    await log.append(buildBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { compression: CompressionCodec.Gzip }));
    expect(log.logEndOffset).toBe(1);
    await log.close();
  });

  it('stamps LogAppendTime and keeps the CRC valid', async () => {
    const log = await openLog({ timestampType: 'LogAppendTime' }, tempDir(), () => 1_700_000_000_123);
    const result = await log.append(valuesBatch('t', 3, { timestamp: 5n }));
    expect(result.logAppendTimeMs).toBe(1_700_000_000_123);
    const [batch] = decodeBatches(log.read(0, 1 << 20).bytes);
    expect(batch!.timestampType).toBe('LogAppendTime');
    expect(batch!.records.map((r) => Number(r.timestamp))).toEqual([1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_123]);
    const bytes = log.read(0, 1 << 20).bytes;
    expect(bytes.readUInt32BE(CRC_OFFSET)).toBe(crc32cReference(bytes, ATTRIBUTES_OFFSET));
    await log.close();
  });

  it('keeps compressed batches as sent and decodes them in the record view', async () => {
    const log = await openLog();
    for (const compression of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
      const batch = valuesBatch(`c${compression}`, 5, { compression });
      const copy = Buffer.from(batch);
      const { firstOffset } = await log.append(batch);
      const stored = log.read(firstOffset, 1, { maxOffset: firstOffset + 5 }).bytes;
      expect(stored.subarray(16).equals(copy.subarray(16))).toBe(true); // identical but for base offset and leader epoch
      expect(log.readRecords(firstOffset + 2, 1 << 20).records.map((r) => r.value?.toString())[0]).toBe(`c${compression}-2`);
    }
    await log.close();
  });
});

describe('offsets by time', () => {
  it('finds the first record at or after a timestamp, across segments', async () => {
    const log = await openLog({ segmentBytes: 400, indexIntervalBytes: 64 });
    for (let i = 0; i < 40; i++) await log.append(valuesBatch(`t${i}`, 2, { timestamp: BigInt(1000 + i * 10) }));
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 1000 });
    expect(log.offsetForTimestamp(1105)).toEqual({ offset: 22, timestamp: 1110 });
    expect(log.offsetForTimestamp(1390)).toEqual({ offset: 78, timestamp: 1390 });
    expect(log.offsetForTimestamp(1391)).toBeNull();
    await log.close();
  });
});

describe('segments, retention and restart', () => {
  it('rolls by segment.bytes and by segment.ms, naming segments by base offset', async () => {
    let now = 1_000_000;
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 1000, segmentMs: 60_000 }, dir, () => now);
    for (let i = 0; i < 10; i++) await log.append(valuesBatch(`r${i}`, 3, { valueBytes: 40, timestamp: BigInt(now) }));
    const byBytes = log.segmentBaseOffsets();
    expect(byBytes.length).toBeGreaterThan(1);
    for (const base of byBytes) expect(fs.existsSync(path.join(dir, `${String(base).padStart(20, '0')}.log`))).toBe(true);
    now += 61_000;
    await log.append(valuesBatch('late', 1, { timestamp: BigInt(now) }));
    expect(log.segmentBaseOffsets().at(-1)).toBe(30);
    await log.close();
  });

  it('deletes segments by retention.ms and retention.bytes, never the data it keeps', async () => {
    let now = 10_000_000;
    const log = await openLog({ segmentBytes: 600, retentionMs: 5_000 }, tempDir(), () => now);
    for (let i = 0; i < 12; i++) await log.append(valuesBatch(`old${i}`, 2, { valueBytes: 60, timestamp: BigInt(now) }));
    now += 10_000;
    for (let i = 0; i < 3; i++) await log.append(valuesBatch(`new${i}`, 2, { valueBytes: 60, timestamp: BigInt(now) }));
    const result = log.enforceRetention();
    expect(result.deletedSegments).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(24);
    expect(readAll(log).map((r) => r.value?.toString().slice(0, 4))).toEqual(['new0', 'new0', 'new1', 'new1', 'new2', 'new2']);
    expectFerryError(() => log.read(0, 100), 'OFFSET_OUT_OF_RANGE');

    log.config = { ...log.config, retentionMs: -1, retentionBytes: 0 };
    for (let i = 0; i < 10; i++) await log.append(valuesBatch(`s${i}`, 2, { valueBytes: 60, timestamp: BigInt(now) }));
    log.config = { ...log.config, retentionBytes: 700 };
    log.enforceRetention();
    expect(log.sizeBytes).toBeLessThanOrEqual(700 + 600);
    expect(log.segmentCount).toBeGreaterThanOrEqual(1);
    expect(readAll(log).at(-1)?.value?.toString().slice(0, 2)).toBe('s9');
    await log.close();
  });

  it('advances the log start offset with deleteRecordsBefore, durably', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 500 }, dir);
    for (let i = 0; i < 20; i++) await log.append(valuesBatch(`d${i}`, 2, { valueBytes: 40 }));
    expect(log.deleteRecordsBefore(15)).toBe(15);
    expectFerryError(() => log.read(14, 100), 'OFFSET_OUT_OF_RANGE');
    expect(log.readRecords(15, 1 << 20).records[0]!.offset).toBe(15n);
    const segmentsBefore = log.segmentCount;
    log.enforceRetention();
    expect(log.segmentCount).toBeLessThan(segmentsBefore);
    expect(log.logStartOffset).toBe(15);
    expectFerryError(() => log.deleteRecordsBefore(41), 'OFFSET_OUT_OF_RANGE');
    await log.close();
    const reopened = await openLog({ segmentBytes: 500 }, dir);
    expect(reopened.logStartOffset).toBe(15);
    expect(reopened.logEndOffset).toBe(40);
    await reopened.close();
  });

  it('reopens a cleanly closed log where it left off, without a recovery scan', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 800 }, dir);
    for (let i = 0; i < 30; i++) await log.append(valuesBatch(`p${i}`, 3));
    const before = readAll(log).map((r) => r.value?.toString());
    await log.close();
    const reopened = await openLog({ segmentBytes: 800 }, dir);
    expect(reopened.recovery.segmentsScanned).toBe(0);
    expect(reopened.logEndOffset).toBe(90);
    expect(readAll(reopened).map((r) => r.value?.toString())).toEqual(before);
    const next = await reopened.append(valuesBatch('after', 1));
    expect(next.firstOffset).toBe(90);
    await reopened.close();
  });

  it('rebuilds a deleted or damaged index and still finds every offset', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 1 << 20, indexIntervalBytes: 128 }, dir);
    for (let i = 0; i < 100; i++) await log.append(valuesBatch(`i${i}`, 2, { valueBytes: 30 }));
    await log.close();
    const indexPath = path.join(dir, '00000000000000000000.index');
    const entriesBefore = fs.statSync(indexPath).size / 8;
    expect(entriesBefore).toBeGreaterThan(10);

    fs.rmSync(indexPath);
    const rebuilt = await openLog({ segmentBytes: 1 << 20, indexIntervalBytes: 128 }, dir);
    expect(fs.statSync(indexPath).size / 8).toBe(entriesBefore);
    for (const offset of [0, 1, 57, 120, 199]) expect(rebuilt.readRecords(offset, 1).records.find((r) => Number(r.offset) === offset)).toBeDefined();
    await rebuilt.close();

    const damaged = fs.readFileSync(indexPath);
    damaged.writeInt32BE(0x7fff0000, damaged.length - 4); // a position beyond the log
    fs.writeFileSync(indexPath, damaged);
    const repaired = await openLog({ segmentBytes: 1 << 20, indexIntervalBytes: 128 }, dir);
    expect(fs.statSync(indexPath).size / 8).toBe(entriesBefore);
    expect(repaired.readRecords(199, 1).records.at(-1)!.offset).toBe(199n);
    await repaired.close();
  });
});

describe('flush policy', () => {
  it('with flush.messages=1, acknowledges only after fdatasync, one sync serving every waiting append', async () => {
    const log = await openLog({ flushMessages: 1 });
    const appends = Array.from({ length: 100 }, (_, i) => log.append(valuesBatch(`f${i}`, 1)));
    const results = await Promise.all(appends);
    expect(results.at(-1)!.lastOffset).toBe(99);
    expect(log.flushedOffset).toBe(100);
    // The first append starts a sync; the 99 issued while it runs all wait for the next one.
    expect(log.flushCount).toBe(2);
    await log.close();
  });

  it('keeps group commit fair under sustained load: every producer progresses, many appends per sync', async () => {
    const log = await openLog({ flushMessages: 1 });
    const producers = 16;
    const appendsEach = 20;
    const done = await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let i = 0; i < appendsEach; i++) await log.append(valuesBatch(`p${p}-${i}`, 1));
        return p;
      }),
    );
    expect(done).toHaveLength(producers);
    expect(log.flushedOffset).toBe(producers * appendsEach);
    // Producers that were acknowledged by one sync all join the next: far fewer syncs than appends.
    expect(log.flushCount).toBeLessThan((producers * appendsEach) / 4);
    await log.close();
  });

  it('with flush.messages=N, syncs once N records are unflushed', async () => {
    const log = await openLog({ flushMessages: 10 });
    for (let i = 0; i < 9; i++) await log.append(valuesBatch(`n${i}`, 1));
    expect(log.flushedOffset).toBe(0);
    await log.append(valuesBatch('n9', 1));
    expect(log.flushedOffset).toBe(10);
    await log.close();
  });

  it('with flush.ms, syncs in the background', async () => {
    const log = await openLog({ flushMs: 20 });
    await log.append(valuesBatch('m', 3));
    expect(log.flushedOffset).toBe(0);
    await expect.poll(() => log.flushedOffset, { timeout: 5000 }).toBe(3);
    await log.close();
  });
});

describe('preallocation', () => {
  it('reserves segment.bytes of disk for the active segment without growing the file, and gives it back on roll', async () => {
    const dir = tempDir();
    const log = await openLog({ preallocate: true, segmentBytes: 8 * 1024 * 1024 }, dir);
    await log.append(valuesBatch('a', 2));
    const first = path.join(dir, '00000000000000000000.log');
    expect(fs.statSync(first).size).toBe(log.sizeBytes);
    expect(fs.statSync(first).blocks * 512).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    log.roll();
    expect(fs.statSync(first).blocks * 512).toBeLessThan(1024 * 1024);
    await log.close();
  });
});

describe('edge cases found in review', () => {
  it('validates compressed batches record by record, inline and (when large) in the pool', async () => {
    const { buildBatch } = await import('../../src/storage/batch-builder.js');
    const { RECORDS_OFFSET } = await import('../../src/storage/record-batch.js');
    const log = await openLog();
    const reCrc = (batch: Buffer): Buffer => {
      batch.writeUInt32BE(crc32cReference(batch, ATTRIBUTES_OFFSET), CRC_OFFSET);
      return batch;
    };
    // Garbage where the gzip payload should be, with a valid CRC.
    const garbage = buildBatch([{ key: Buffer.from('k'), value: Buffer.alloc(100, 1) }], { compression: CompressionCodec.Gzip });
    garbage.fill(0x5a, RECORDS_OFFSET);
    await expectRejects(log.append(reCrc(garbage)), 'CORRUPT_MESSAGE');
    // One zstd record claiming 2^31-1 records.
    const inflated = buildBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { compression: CompressionCodec.Zstd });
    inflated.writeInt32BE(0x7fffffff, 57);
    inflated.writeInt32BE(0x7ffffffe, 23);
    await expectRejects(log.append(reCrc(inflated)), 'INVALID_RECORD');
    // A record whose offsetDelta jumps ahead.
    const skipping = buildBatch([{ key: Buffer.from('a'), value: Buffer.from('x'), offsetDelta: 1000 }], { compression: CompressionCodec.Lz4, lastOffsetDelta: 1000 });
    await expectRejects(log.append(skipping), 'INVALID_RECORD');
    // Large compressed batches go through the pool; errors keep their Kafka names across the thread boundary.
    const next = prng(11);
    const random = Buffer.from(Array.from({ length: 200_000 }, () => Math.floor(next() * 256)));
    const large = buildBatch([{ key: Buffer.from('big'), value: random }], { compression: CompressionCodec.Snappy });
    expect(large.length).toBeGreaterThan(64 * 1024);
    const broken = Buffer.from(large);
    broken.writeInt32BE(0x7ffffff0, RECORDS_OFFSET + 16); // the first xerial block claims ~2 GiB
    await expectRejects(log.append(reCrc(broken)), 'CORRUPT_MESSAGE');
    expect(log.logEndOffset).toBe(0);
    // Appends keep their order across the pool: a small one issued after a large one lands after it.
    const [first, second] = await Promise.all([log.append(large), log.append(valuesBatch('small', 1))]);
    expect([first.firstOffset, second.firstOffset]).toEqual([0, 1]);
    expect(log.readRecords(0, 1 << 21).records[0]!.value!.equals(random)).toBe(true);
    await log.close();
  });

  it('computes maxTimestamp from the records and enforces the topic timestamp type, as Kafka does', async () => {
    const log = await openLog();
    const lying = valuesBatch('t', 2, { timestamp: 5_000n });
    lying.writeBigInt64BE(0n, 35); // maxTimestamp 0
    lying.writeInt16BE(lying.readInt16BE(ATTRIBUTES_OFFSET) | 0x08, ATTRIBUTES_OFFSET); // claims LogAppendTime
    lying.writeUInt32BE(crc32cReference(lying, ATTRIBUTES_OFFSET), CRC_OFFSET);
    await log.append(lying);
    const [batch] = decodeBatches(log.read(0, 1 << 20).bytes);
    expect(batch!.maxTimestamp).toBe(5_000n);
    expect(batch!.timestampType).toBe('CreateTime');
    const stored = log.read(0, 1 << 20).bytes;
    expect(stored.readUInt32BE(CRC_OFFSET)).toBe(crc32cReference(stored, ATTRIBUTES_OFFSET));
    expect(log.offsetForTimestamp(4_000)).toEqual({ offset: 0, timestamp: 5_000 });
    await log.close();
  });

  it('never serves a batch that reaches past maxOffset, and never skips offsets because of it', async () => {
    const log = await openLog();
    await log.append(valuesBatch('a', 5));
    await log.append(valuesBatch('b', 5));
    const capped = log.read(0, 1 << 20, { maxOffset: 7 });
    expect(decodeBatches(capped.bytes).map((b) => Number(b.baseOffset))).toEqual([0]);
    expect(capped.nextOffset).toBe(5);
    const straddling = log.read(5, 1 << 20, { maxOffset: 7 });
    expect(straddling.bytes.length).toBe(0);
    expect(straddling.nextOffset).toBe(5);
    await log.close();
  });

  it('does not roll a segment per append when record timestamps are older than segment.ms', async () => {
    const log = await openLog({ segmentMs: 60_000 });
    const old = BigInt(Date.now() - 8 * 24 * 3600 * 1000);
    for (let i = 0; i < 50; i++) await log.append(valuesBatch(`o${i}`, 1, { timestamp: old + BigInt(i) }));
    expect(log.segmentCount).toBe(1);
    await log.append(valuesBatch('later', 1, { timestamp: old + 120_000n }));
    expect(log.segmentCount).toBe(2);
    await log.close();
  });

  it('rolls back a whole request when a roll fails, and recovers once the obstacle is gone', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 300 }, dir);
    await log.append(valuesBatch('first', 1, { valueBytes: 100 }));
    const sizeBefore = log.sizeBytes;
    // The next segment's file name is taken by a directory: creating it fails mid-request.
    const obstacle = path.join(dir, '00000000000000000001.log');
    fs.mkdirSync(obstacle);
    const request = Buffer.concat([valuesBatch('x', 1, { valueBytes: 100 }), valuesBatch('y', 1, { valueBytes: 100 })]);
    await expectRejects(log.append(Buffer.from(request)), 'KAFKA_STORAGE_ERROR');
    expect(log.logEndOffset).toBe(1);
    expect(log.sizeBytes).toBe(sizeBefore);
    expect(log.segmentCount).toBe(1);
    fs.rmdirSync(obstacle);
    const retried = await log.append(Buffer.from(request));
    expect(retried).toMatchObject({ firstOffset: 1, lastOffset: 2 });
    expect(readAll(log).map((r) => r.value!.toString().slice(0, 1))).toEqual(['f', 'x', 'y']);
    await log.close();
  });

  it('refuses appends once close has begun, and whatever it acknowledged survives', async () => {
    const dir = tempDir();
    const log = await openLog({ flushMessages: 1 }, dir);
    const before = log.append(valuesBatch('before', 1));
    const closing = log.close();
    await expectRejects(log.append(valuesBatch('during', 1)), 'KAFKA_STORAGE_ERROR');
    await expect(log.compact()).rejects.toBeInstanceOf(FerryError);
    expect((await before).firstOffset).toBe(0);
    await closing;
    const reopened = await openLog({}, dir);
    expect(readAll(reopened).map((r) => r.value!.toString())).toEqual(['before-0']);
    await reopened.close();
  });

  it('rejects segment.bytes beyond what int32 index positions can address', async () => {
    const { logConfigFromTopicConfigs } = await import('../../src/storage/log-config.js');
    expectFerryError(() => logConfigFromTopicConfigs({ 'segment.bytes': String(2 ** 31) }), 'INVALID_CONFIG');
    expect(logConfigFromTopicConfigs({ 'segment.bytes': String(2 ** 31 - 1) }).segmentBytes).toBe(2 ** 31 - 1);
  });
});

describe('recovery point', () => {
  it('moves past a rolled segment once it is flushed, so a crash rescans only newer segments', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 400 }, dir);
    for (let i = 0; i < 10; i++) await log.append(valuesBatch(`r${i}`, 2, { valueBytes: 40 }));
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    expect(activeBase).toBeGreaterThan(0);
    await expect.poll(() => log.flushedOffset).toBe(activeBase);
    log.saveCheckpoint(false);
    // Crash here: reopen without close. Only the active segment is rescanned.
    const reopened = await openLog({ segmentBytes: 400 }, dir);
    expect(reopened.recovery.segmentsScanned).toBe(1);
    expect(reopened.logEndOffset).toBe(20);
    await reopened.close();
  });
});

describe('batches from a real Kafka client library', () => {
  it('accepts what kafkajs encodes, plain and gzip, stores it byte for byte and reads the records back', async () => {
    const { KAFKAJS_COMPRESSION, kafkajsEncodeBatch } = await import('./kafkajs-oracle.js');
    const log = await openLog();
    for (const compression of [KAFKAJS_COMPRESSION.None, KAFKAJS_COMPRESSION.GZIP]) {
      const now = Date.now();
      const sent = await kafkajsEncodeBatch({
        compression,
        firstTimestamp: now,
        maxTimestamp: now + 2,
        lastOffsetDelta: 2,
        records: [0, 1, 2].map((i) => ({ offsetDelta: i, timestampDelta: i, key: Buffer.from(`key-${i}`), value: Buffer.from(`value-${i}`), headers: { trace: `t${i}` } })),
      });
      const copy = Buffer.from(sent);
      const { firstOffset } = await log.append(sent);
      const stored = log.read(firstOffset, 1 << 20).bytes;
      expect(stored.subarray(16).equals(copy.subarray(16))).toBe(true);
      const records = log.readRecords(firstOffset, 1 << 20).records;
      expect(records.map((r) => [Number(r.offset), r.key!.toString(), r.value!.toString(), r.headers[0]!.value!.toString()])).toEqual([
        [firstOffset, 'key-0', 'value-0', 't0'],
        [firstOffset + 1, 'key-1', 'value-1', 't1'],
        [firstOffset + 2, 'key-2', 'value-2', 't2'],
      ]);
    }
    await log.close();
  });
});

describe('file ranges for sendfile (the zero-copy fetch path)', () => {
  it('locates exactly the bytes read() returns, for random offsets, sizes and caps', async () => {
    const log = await openLog({ segmentBytes: 20_000, indexIntervalBytes: 300 });
    const next = prng(5);
    for (let i = 0; i < 300; i++) await log.append(valuesBatch(`s${i}`, 1 + Math.floor(next() * 4), { valueBytes: Math.floor(next() * 200) }));
    const fs = await import('node:fs');
    for (let round = 0; round < 300; round++) {
      const from = Math.floor(next() * log.logEndOffset);
      const maxBytes = Math.floor(next() * 5000);
      const maxOffset = from + Math.floor(next() * 200);
      const minOneBatch = next() < 0.7;
      const read = log.read(from, maxBytes, { maxOffset, minOneBatch });
      const located = log.readFileRange(from, maxBytes, { maxOffset, minOneBatch });
      expect(located.nextOffset, `round ${round}`).toBe(read.nextOffset);
      const bytes = Buffer.alloc(located.range?.sizeBytes ?? 0);
      if (located.range) fs.readSync(located.range.fd, bytes, 0, bytes.length, located.range.position);
      located.range?.release();
      expect(bytes.equals(read.bytes), `round ${round}: from ${from} maxBytes ${maxBytes} maxOffset ${maxOffset}`).toBe(true);
    }
    await log.close();
  });

  it('sends a range to a TCP socket with sendfile, and keeps the file open until released even if retention deletes it', async () => {
    const net = await import('node:net');
    const { native } = await import('../../src/storage/native.js');
    expect(native).not.toBeNull();
    let now = 1_000_000;
    const log = await openLog({ segmentBytes: 1000, retentionMs: 1000 }, tempDir(), () => now);
    for (let i = 0; i < 10; i++) await log.append(valuesBatch(`z${i}`, 2, { valueBytes: 100, timestamp: BigInt(now) }));
    const expected = log.read(0, 1 << 20).bytes;
    const { range } = log.readFileRange(0, 1 << 20);
    expect(range!.sizeBytes).toBe(expected.length);
    now += 10_000;
    await log.append(valuesBatch('fresh', 1, { timestamp: BigInt(now) }));
    expect(log.enforceRetention().deletedSegments).toBeGreaterThan(0); // the leased segment is gone from the log...

    const received: Buffer[] = [];
    const server = net.createServer((socket) => socket.on('data', (chunk) => received.push(chunk)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    await new Promise((resolve) => client.on('connect', resolve));
    // ...but its descriptor stays valid until the lease is released. The socket fd is libuv's, read from the handle.
    const socketFd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const sent = await native!.sendfile(socketFd, range!.fd, range!.position, range!.sizeBytes);
    range!.release();
    expect(sent).toBe(expected.length);
    client.end();
    await expect.poll(() => Buffer.concat(received).length).toBe(expected.length);
    expect(Buffer.concat(received).equals(expected)).toBe(true);
    server.close();
    await log.close();
  });
});

describe('edge cases found in the second review', () => {
  it('keeps checking the roll rules for the rest of a request after rolling in its middle', async () => {
    const log = await openLog({ segmentBytes: 1000 });
    const request = Buffer.concat(Array.from({ length: 12 }, (_, i) => valuesBatch(`m${i}`, 1, { valueBytes: 400 })));
    await log.append(request);
    await log.append(Buffer.concat(Array.from({ length: 12 }, (_, i) => valuesBatch(`n${i}`, 1, { valueBytes: 400 }))));
    expect(log.segmentCount).toBeGreaterThan(10);
    expect(readAll(log)).toHaveLength(24);
    await log.close();
  });

  it('answers a negative maxBytes like zero', async () => {
    const log = await openLog();
    await log.append(valuesBatch('a', 2));
    expect(decodeBatches(log.read(0, -1_000_000).bytes)).toHaveLength(1); // the first batch, whole
    expect(log.read(0, -5, { minOneBatch: false }).bytes.length).toBe(0);
    expect(log.readFileRange(0, -1_000_000, { minOneBatch: false }).range).toBeNull();
    await log.close();
  });

  it('reports a failing pool validation as KAFKA_STORAGE_ERROR, and later appends go on', async () => {
    const { buildBatch } = await import('../../src/storage/batch-builder.js');
    const { sharedStoragePool } = await import('../../src/storage/storage-pool.js');
    const pool = sharedStoragePool();
    let calls = 0;
    // The real pool, with its second validation failing as a crashed worker would.
    const tasks = {
      recoverSegment: pool.recoverSegment.bind(pool),
      compact: pool.compact.bind(pool),
      validate: (bytes: Buffer, rules: Parameters<typeof pool.validate>[1]) => (++calls === 2 ? Promise.reject(new Error('worker exited')) : pool.validate(bytes, rules)),
    };
    const log = await PartitionLog.open({ dir: tempDir(), config: config(), tasks });
    const next = prng(3);
    const large = (): Buffer => buildBatch([{ key: Buffer.from('k'), value: Buffer.from(Array.from({ length: 100_000 }, () => Math.floor(next() * 256))) }], { compression: CompressionCodec.Lz4 });
    const results = await Promise.allSettled([log.append(large()), log.append(large()), log.append(large())]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as FerryError).errorName).toBe('KAFKA_STORAGE_ERROR');
    expect(log.logEndOffset).toBe(2);
    await log.close();
  });
});
