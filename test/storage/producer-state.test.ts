import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError, type ErrorName } from '../../src/errors.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/partition-log.js';
import { PRODUCER_BATCHES_RETAINED, ProducerStateTable, SEQUENCE_MAX, incrementSequence } from '../../src/storage/producer-state.js';
import { LENGTH_OFFSET, LOG_OVERHEAD } from '../../src/storage/record-batch.js';
import { decodeSnapshot, encodeSnapshot, snapshotOffsets } from '../../src/storage/producer-snapshot.js';
import { closeSharedStoragePool, sharedStoragePool, type StorageTasks } from '../../src/storage/storage-pool.js';
import { decodeBatches } from '../../src/storage/records.js';
import { config, keyedBatch, prng, readAll, tempDir, valuesBatch } from './helpers.js';

afterAll(closeSharedStoragePool);

const PRODUCER = 1000n;

/** A batch of `count` records from an idempotent producer. */
function idempotent(prefix: string, count: number, baseSequence: number, options: { producerId?: bigint; epoch?: number; isTransactional?: boolean } = {}): Buffer {
  return valuesBatch(prefix, count, { producerId: options.producerId ?? PRODUCER, producerEpoch: options.epoch ?? 0, baseSequence, isTransactional: options.isTransactional ?? false });
}

async function expectRefused(promise: Promise<unknown>, errorName: ErrorName): Promise<void> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(FerryError);
  expect((error as FerryError).errorName).toBe(errorName);
}

function snapshotsIn(dir: string): number[] {
  return snapshotOffsets(fs.readdirSync(dir));
}

async function openLog(dir: string, overrides: Partial<PartitionLogOptions> = {}): Promise<PartitionLog> {
  return PartitionLog.open({ dir, config: config(), ...overrides });
}

/** The shared pool, counting the producer state replays it is asked for. */
function countingTasks(): StorageTasks & { replays: number } {
  const pool = sharedStoragePool();
  const tasks = {
    replays: 0,
    recoverSegment: pool.recoverSegment.bind(pool),
    compact: pool.compact.bind(pool),
    validate: pool.validate.bind(pool),
    replayProducers: (task: Parameters<typeof pool.replayProducers>[0]) => {
      tasks.replays++;
      return pool.replayProducers(task);
    },
  };
  return tasks;
}

/** The crashed state of a log still open: its files as they are now, with no clean shutdown. */
function crashCopy(dir: string): string {
  const copy = tempDir('ferry-producer-crash-');
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

describe('idempotent appends', () => {
  it('leaves batches without a producer id alone: the same bytes twice are two appends', async () => {
    const log = await openLog(tempDir());
    const first = await log.append(valuesBatch('a', 3));
    const second = await log.append(valuesBatch('a', 3));
    expect([first.firstOffset, second.firstOffset]).toEqual([0, 3]);
    expect(second.duplicate).toBeUndefined();
    expect(log.producerEntries()).toEqual([]);
    await log.close();
  });

  it('answers a resend of any of the last five batches with its original offsets and writes nothing', async () => {
    const log = await openLog(tempDir());
    const originals = [];
    for (let i = 0; i < 6; i++) originals.push(await log.append(idempotent(`b${i}`, 2, i * 2)));
    expect(originals.map((r) => r.firstOffset)).toEqual([0, 2, 4, 6, 8, 10]);
    const end = log.logEndOffset;
    for (let i = 6 - PRODUCER_BATCHES_RETAINED; i < 6; i++) {
      const resent = await log.append(idempotent(`b${i}`, 2, i * 2));
      expect(resent).toMatchObject({ firstOffset: originals[i]!.firstOffset, lastOffset: originals[i]!.lastOffset, duplicate: true, recordCount: 0 });
    }
    expect(log.logEndOffset).toBe(end);
    expect(readAll(log)).toHaveLength(12);
    // Older than the five remembered: no longer recognisable, so out of order.
    await expectRefused(log.append(idempotent('b0', 2, 0)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    const [entry] = log.producerEntries();
    expect(entry).toMatchObject({ producerId: PRODUCER, epoch: 0, lastTimestampMs: expect.any(Number) });
    expect(entry!.batches.map((b) => [b.firstSeq, b.lastSeq])).toEqual([[2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]);
    await log.close();
  });

  it('gives a LogAppendTime topic the original append time on a resend', async () => {
    let now = 1_700_000_000_000;
    const log = await openLog(tempDir(), { config: config({ timestampType: 'LogAppendTime' }), clock: () => now });
    const first = await log.append(idempotent('t', 1, 0));
    now += 5000;
    const resent = await log.append(idempotent('t', 1, 0));
    expect(first.logAppendTimeMs).toBe(1_700_000_000_000);
    expect(resent).toMatchObject({ duplicate: true, logAppendTimeMs: 1_700_000_000_000 });
    await log.close();
  });

  it('refuses a gap or an old sequence with OUT_OF_ORDER_SEQUENCE_NUMBER and writes nothing', async () => {
    const log = await openLog(tempDir());
    await log.append(idempotent('g', 3, 0));
    await expectRefused(log.append(idempotent('g', 1, 4)), 'OUT_OF_ORDER_SEQUENCE_NUMBER'); // 3 missing
    await expectRefused(log.append(idempotent('g', 2, 1)), 'OUT_OF_ORDER_SEQUENCE_NUMBER'); // overlaps, not an exact resend
    expect(log.logEndOffset).toBe(3);
    expect((await log.append(idempotent('g', 1, 3))).firstOffset).toBe(3);
    await log.close();
  });

  it('fences an older epoch and lets a new epoch in only at sequence 0', async () => {
    const log = await openLog(tempDir());
    await log.append(idempotent('e', 2, 0, { epoch: 3 }));
    await expectRefused(log.append(idempotent('e', 1, 2, { epoch: 2 })), 'INVALID_PRODUCER_EPOCH');
    await expectRefused(log.append(idempotent('e', 1, 2, { epoch: 4 })), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect((await log.append(idempotent('e', 1, 0, { epoch: 4 }))).firstOffset).toBe(2);
    // The new epoch forgot the old one's batches: a resend from epoch 3 is fenced, not a duplicate.
    await expectRefused(log.append(idempotent('e', 2, 0, { epoch: 3 })), 'INVALID_PRODUCER_EPOCH');
    expect(log.producerEntries()[0]).toMatchObject({ epoch: 4, batches: [{ firstSeq: 0, lastSeq: 0, firstOffset: 2, lastOffset: 2 }] });
    await log.close();
  });

  it('accepts an unknown producer at any sequence (KIP-360), and keeps producers apart', async () => {
    const log = await openLog(tempDir());
    await log.append(idempotent('u', 1, 500));
    await log.append(idempotent('v', 1, 0, { producerId: 7n }));
    await log.append(idempotent('u', 1, 501));
    await expectRefused(log.append(idempotent('v', 1, 500, { producerId: 7n })), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(log.producerEntries().map((e) => e.producerId)).toEqual([7n, PRODUCER]);
    await log.close();
  });

  it('wraps sequences from 2^31 - 1 to 0', async () => {
    expect(incrementSequence(SEQUENCE_MAX - 1, 2)).toBe(0);
    expect(incrementSequence(SEQUENCE_MAX, 1)).toBe(0);
    expect(incrementSequence(5, 3)).toBe(8);
    const log = await openLog(tempDir());
    await log.append(idempotent('w', 1, SEQUENCE_MAX - 2));
    const wrapping = await log.append(idempotent('w', 3, SEQUENCE_MAX - 1)); // MAX-1, MAX, 0
    expect(log.producerEntries()[0]!.batches.at(-1)).toMatchObject({ firstSeq: SEQUENCE_MAX - 1, lastSeq: 0 });
    expect((await log.append(idempotent('w', 3, SEQUENCE_MAX - 1))).duplicate).toBe(true);
    await expectRefused(log.append(idempotent('w', 1, 2)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect((await log.append(idempotent('w', 1, 1))).firstOffset).toBe(wrapping.lastOffset + 1);
    await log.close();
  });

  it('treats a multi-batch append as a whole: in sequence across its batches, all or nothing, no mixed resends', async () => {
    const log = await openLog(tempDir());
    const pair = await log.append(Buffer.concat([idempotent('m', 2, 0), idempotent('m', 2, 2)]));
    expect([pair.firstOffset, pair.lastOffset]).toEqual([0, 3]);
    await expectRefused(log.append(Buffer.concat([idempotent('m', 1, 4), idempotent('m', 1, 6)])), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(log.logEndOffset).toBe(4);
    expect(await log.append(Buffer.concat([idempotent('m', 2, 0), idempotent('m', 2, 2)]))).toMatchObject({ duplicate: true, firstOffset: 0, lastOffset: 3 });
    await expectRefused(log.append(Buffer.concat([idempotent('m', 2, 2), idempotent('m', 1, 4)])), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    await expectRefused(log.append(Buffer.concat([idempotent('m', 2, 2), valuesBatch('plain', 1)])), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(log.logEndOffset).toBe(4);
    await log.close();
  });

  it('refuses transactional batches and producer batches without epoch or sequence', async () => {
    const log = await openLog(tempDir());
    await expectRefused(log.append(idempotent('x', 1, 0, { isTransactional: true })), 'INVALID_TXN_STATE');
    await expectRefused(log.append(valuesBatch('x', 1, { producerId: PRODUCER, producerEpoch: 0, baseSequence: -1 })), 'INVALID_RECORD');
    await expectRefused(log.append(valuesBatch('x', 1, { producerId: PRODUCER, producerEpoch: -1, baseSequence: 0 })), 'INVALID_RECORD');
    expect(log.logEndOffset).toBe(0);
    await log.close();
  });

  it('forgets producers silent for producer.id.expiration.ms', async () => {
    let now = Date.now();
    const log = await openLog(tempDir(), { clock: () => now, producerIdExpirationMs: 60_000 });
    await log.append(valuesBatch('old', 1, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 0, timestamp: BigInt(now) }));
    now += 30_000;
    expect(log.expireProducers()).toBe(0);
    now += 30_000;
    expect(log.expireProducers()).toBe(1);
    expect(log.producerEntries()).toEqual([]);
    expect((await log.append(idempotent('old', 1, 9))).duplicate).toBeUndefined(); // unknown again: any sequence
    await log.close();
  });
});

describe('producer expiry in the log manager', () => {
  it('forgets silent producers on its producer.id.expiration.check.interval.ms timer', async () => {
    let now = Date.now();
    const manager = await LogManager.open({
      dataDir: tempDir(),
      configFor: () => config(),
      clock: () => now,
      producerIdExpirationMs: 1000,
      producerExpirationCheckIntervalMs: 20,
    });
    const log = await manager.getOrCreate('t', 0);
    await log.append(valuesBatch('p', 1, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 0, timestamp: BigInt(now) }));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(log.producerEntries()).toHaveLength(1);
    now += 1000;
    for (let waitedMs = 0; log.producerEntries().length > 0 && waitedMs < 10_000; waitedMs += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log.producerEntries()).toEqual([]);
    await manager.close();
  });
});

describe('producer state across restarts', () => {
  it('after a clean close: restored from the snapshot at the log end, every retained batch still recognised', async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    for (let i = 0; i < 7; i++) await log.append(idempotent(`c${i}`, 1, i));
    await log.close();
    expect(snapshotsIn(dir)).toEqual([7]);
    const tasks = countingTasks();
    const reopened = await openLog(dir, { tasks });
    expect(tasks.replays).toBe(0); // the snapshot is at the log end: nothing to replay
    for (let i = 2; i < 7; i++) expect(await reopened.append(idempotent(`c${i}`, 1, i))).toMatchObject({ duplicate: true, firstOffset: i });
    await expectRefused(reopened.append(idempotent('c9', 1, 9)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect((await reopened.append(idempotent('c7', 1, 7))).firstOffset).toBe(7);
    await reopened.close();
  });

  it('after an unclean stop: snapshot taken at the roll plus the batches after it', async () => {
    const dir = tempDir();
    const log = await openLog(dir, { config: config({ segmentBytes: 800 }) });
    for (let i = 0; i < 40; i++) await log.append(idempotent(`r${i}`, 1, Math.floor(i / 3), { producerId: BigInt(i % 3) }));
    await log.flush();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the roll's snapshot is written in the background
    expect(log.segmentCount).toBeGreaterThan(2);
    expect(snapshotsIn(dir).length).toBeGreaterThan(0);
    const expected = log.producerEntries();
    const copy = crashCopy(dir);
    await log.close();
    expect(fs.readFileSync(path.join(copy, 'checkpoint'), 'utf8')).toContain('cleanShutdown 0');
    const tasks = countingTasks();
    const recovered = await openLog(copy, { config: config({ segmentBytes: 800 }), tasks });
    expect(tasks.replays).toBe(1); // the tail after the last roll's snapshot, in the pool
    expect(recovered.producerEntries()).toEqual(expected);
    expect(await recovered.append(idempotent('r39', 1, 13, { producerId: 0n }))).toMatchObject({ duplicate: true, firstOffset: 39 });
    expect(await recovered.append(idempotent('r35', 1, 11, { producerId: 2n }))).toMatchObject({ duplicate: true, firstOffset: 35 });
    await recovered.close();
  });

  it('after an unclean stop with a torn tail: the torn batch is forgotten, so its resend is written', async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    for (let i = 0; i < 5; i++) await log.append(idempotent(`t${i}`, 2, i * 2));
    await log.flush();
    const copy = crashCopy(dir);
    await log.close();
    const segment = path.join(copy, '00000000000000000000.log');
    fs.truncateSync(segment, fs.statSync(segment).size - 7); // the last batch (sequences 8-9) torn
    const recovered = await openLog(copy);
    expect(recovered.logEndOffset).toBe(8);
    expect(recovered.producerEntries()[0]!.batches.at(-1)).toMatchObject({ firstSeq: 6, lastSeq: 7 });
    const resent = await recovered.append(idempotent('t4', 2, 8));
    expect(resent).toMatchObject({ firstOffset: 8, lastOffset: 9 });
    expect(resent.duplicate).toBeUndefined();
    await recovered.close();
  });

  it('rebuilds exactly the state of the batches that survive, for 20 random cuts of the active segment', async () => {
    const logConfig = config({ segmentBytes: 700 });
    const dir = tempDir();
    const log = await openLog(dir, { config: logConfig });
    const random = prng(4);
    const sequences = [0, 0, 0];
    for (let i = 0; i < 45; i++) {
      const producer = Math.floor(random() * 3);
      const count = 1 + Math.floor(random() * 3);
      await log.append(idempotent(`p${producer}-${i}`, count, sequences[producer]!, { producerId: BigInt(producer) }));
      sequences[producer] = sequences[producer]! + count;
    }
    await log.flush();
    await new Promise((resolve) => setTimeout(resolve, 50)); // roll snapshots land in the background
    const template = crashCopy(dir);
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    await log.close();
    const active = (where: string): string => path.join(where, `${String(activeBase).padStart(20, '0')}.log`);
    const fullBytes = fs.statSync(active(template)).size;
    for (let round = 0; round < 20; round++) {
      const copy = crashCopy(template);
      fs.truncateSync(active(copy), Math.floor(random() * (fullBytes + 1)));
      const recovered = await openLog(copy, { config: logConfig });
      // The oracle: every surviving batch header replayed from the log start.
      const oracle = new ProducerStateTable('oracle');
      for (let offset = 0; offset < recovered.logEndOffset; ) {
        const { bytes, nextOffset } = recovered.read(offset, 64 * 1024 * 1024);
        for (let at = 0; at < bytes.length; at += bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD) oracle.replay(bytes, at);
        offset = nextOffset;
      }
      expect(recovered.segmentCount).toBeGreaterThan(1);
      expect(recovered.producerEntries()).toEqual(oracle.all());
      await recovered.close();
    }
  });

  it('keeps a few snapshots, none below the first segment but the newest', async () => {
    const dir = tempDir();
    const log = await openLog(dir, { config: config({ segmentBytes: 400 }) });
    for (let i = 0; i < 40; i++) await log.append(idempotent(`k${i}`, 1, i));
    await log.close();
    const offsets = snapshotsIn(dir);
    expect(offsets.length).toBeLessThanOrEqual(3);
    expect(offsets.at(-1)).toBe(40);
  });

  it('ignores a snapshot past a log end that recovery cut, and a corrupt one', async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    for (let i = 0; i < 4; i++) await log.append(idempotent(`s${i}`, 1, i));
    await log.close();
    // A snapshot claiming state the log no longer has, and a corrupt newest one.
    const entries = [{ producerId: PRODUCER, epoch: 0, batches: [{ firstSeq: 99, lastSeq: 99, firstOffset: 50, lastOffset: 50, timestampMs: 1 }], lastTimestampMs: Date.now(), coordinatorEpoch: -1, currentTxnFirstOffset: -1 }];
    fs.writeFileSync(path.join(dir, '00000000000000000051.snapshot'), encodeSnapshot(51, entries));
    const corrupt = encodeSnapshot(4, entries);
    corrupt[corrupt.length - 1]! ^= 0xff;
    fs.writeFileSync(path.join(dir, '00000000000000000004.snapshot'), corrupt);
    fs.writeFileSync(path.join(dir, '00000000000000000002.snapshot.tmp.async'), 'half a write');
    const reopened = await openLog(dir);
    expect(snapshotsIn(dir)).toEqual([]);
    expect(fs.readdirSync(dir).filter((name) => name.includes('.tmp'))).toEqual([]);
    expect(reopened.recovery.reasons.some((reason) => reason.includes('CRC32C'))).toBe(true);
    expect(reopened.producerEntries()[0]!.batches.map((b) => b.firstSeq)).toEqual([0, 1, 2, 3]); // replayed from the log
    await reopened.close();
  });

  it('snapshot bytes round-trip and refuse truncation', () => {
    const entries = [{ producerId: 2n ** 60n, epoch: 32_000, batches: [{ firstSeq: SEQUENCE_MAX, lastSeq: 3, firstOffset: 2 ** 40, lastOffset: 2 ** 40 + 4, timestampMs: -1 }], lastTimestampMs: -1, coordinatorEpoch: -1, currentTxnFirstOffset: -1 }];
    const bytes = encodeSnapshot(2 ** 40 + 5, entries);
    expect(decodeSnapshot(bytes, 'x')).toEqual({ offset: 2 ** 40 + 5, entries });
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 1), 'x')).toThrow(/CRC32C|runs past/);
  });

  it('survives retention deleting every segment that held the producer\'s batches', async () => {
    let now = Date.now();
    const dir = tempDir();
    const logConfig = config({ segmentBytes: 1000, retentionMs: 60_000 });
    const log = await openLog(dir, { config: logConfig, clock: () => now });
    for (let i = 0; i < 10; i++) await log.append(valuesBatch(`old${i}`, 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: i * 2, timestamp: BigInt(now) }));
    now += 120_000;
    log.roll();
    for (let i = 0; i < 3; i++) await log.append(valuesBatch(`new${i}`, 1, { timestamp: BigInt(now) }));
    const deleted = log.enforceRetention();
    expect(deleted.deletedSegments).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(20);
    await log.flush();
    const copy = crashCopy(dir); // unclean: the rebuild must not need the deleted segments
    await log.close();
    for (const reopenedDir of [dir, copy]) {
      const reopened = await openLog(reopenedDir, { config: logConfig, clock: () => now, producerIdExpirationMs: 86_400_000 });
      expect(reopened.producerEntries()[0]).toMatchObject({ producerId: PRODUCER, epoch: 0 });
      expect(await reopened.append(valuesBatch('old9', 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 18 }))).toMatchObject({ duplicate: true, firstOffset: 18 });
      expect((await reopened.append(valuesBatch('next', 1, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 20 }))).duplicate).toBeUndefined();
      await reopened.close();
    }
  });
});

describe('compaction and producer state', () => {
  it('keeps each producer\'s last batch as an empty batch when cleaning drops all its records', async () => {
    const dir = tempDir();
    const logConfig = config({ cleanupCompact: true, cleanupDelete: false, segmentBytes: 600, deleteRetentionMs: 0 });
    const log = await openLog(dir, { config: logConfig });
    // Producer 1's only batch, then plain batches that supersede its key.
    const producerBatch = keyedBatch([{ key: 'k', value: 'from-producer' }, { key: 'j', value: 'also' }], { producerId: 1n, producerEpoch: 2, baseSequence: 40 });
    await log.append(producerBatch);
    for (let i = 0; i < 30; i++) await log.append(keyedBatch([{ key: i % 2 ? 'k' : 'j', value: `plain-${i}` }]));
    log.roll();
    await log.append(keyedBatch([{ key: 'z', value: 'active' }]));
    const before = log.producerEntries();
    await log.compact();
    const firstSegment = log.read(0, 1024 * 1024).bytes;
    const [kept] = decodeBatches(firstSegment);
    expect(kept).toMatchObject({ baseOffset: 0n, lastOffset: 1n, producerId: 1n, producerEpoch: 2, baseSequence: 40, records: [] });
    expect(readAll(log).some((r) => r.value?.toString() === 'from-producer')).toBe(false);
    await log.close();
    // Rebuilt from the log alone (no snapshot): the producer's epoch and last sequence are still known.
    for (const offset of snapshotsIn(dir)) fs.rmSync(path.join(dir, `${String(offset).padStart(20, '0')}.snapshot`));
    const reopened = await openLog(dir, { config: logConfig });
    expect(reopened.producerEntries()).toEqual(before.map((entry) => ({ ...entry, batches: entry.batches.map((b) => ({ ...b, timestampMs: expect.any(Number) })), lastTimestampMs: expect.any(Number) })));
    expect(await reopened.append(producerBatch)).toMatchObject({ duplicate: true, firstOffset: 0, lastOffset: 1 });
    await expectRefused(reopened.append(keyedBatch([{ key: 'k', value: 'x' }], { producerId: 1n, producerEpoch: 1, baseSequence: 0 })), 'INVALID_PRODUCER_EPOCH');
    await reopened.close();
  });
});
