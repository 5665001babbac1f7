/**
 * The storage primitives replication needs from PartitionLog: leader epochs
 * stamped and cached (Kafka's LeaderEpochFileCache), follower appends that
 * keep the leader's bytes, truncation to an offset and to a fresh start.
 * Real files in temp directories, as the other storage tests.
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError, type ErrorName } from '../../src/errors.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/partition-log.js';
import { decodeBatches } from '../../src/storage/records.js';
import { randomBytes } from 'node:crypto';
import { needsPoolValidation } from '../../src/storage/batch-validator.js';
import { buildBatch } from '../../src/storage/batch-builder.js';
import { CompressionCodec, PARTITION_LEADER_EPOCH_OFFSET } from '../../src/storage/record-batch.js';
import { snapshotOffsets } from '../../src/storage/producer-snapshot.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, readAll, tempDir, valuesBatch } from './helpers.js';

afterAll(closeSharedStoragePool);

const EPOCH_FILE = 'leader-epoch-checkpoint';
const PRODUCER = 4242n;

async function openLog(dir = tempDir(), overrides: Partial<PartitionLogOptions> = {}): Promise<PartitionLog> {
  return PartitionLog.open({ dir, config: config(), ...overrides });
}

async function expectRefused(promise: Promise<unknown>, errorName: ErrorName): Promise<FerryError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(FerryError);
  expect((error as FerryError).errorName).toBe(errorName);
  return error as FerryError;
}

/** The crashed state of a log still open: its files as they are now, no clean shutdown. */
function crashCopy(dir: string): string {
  const copy = tempDir('ferry-replication-crash-');
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/** A leader log with `counts[i]` records appended in epoch `epochs[i]` (one batch each). */
async function leaderWith(epochs: number[], counts: number[], dir = tempDir(), options: Partial<PartitionLogOptions> = {}): Promise<PartitionLog> {
  const log = await openLog(dir, options);
  for (let i = 0; i < epochs.length; i++) {
    if (epochs[i] !== log.latestLeaderEpoch) await log.startLeaderEpoch(epochs[i]!);
    await log.append(valuesBatch(`e${epochs[i]}-${i}`, counts[i]!));
  }
  return log;
}

function epochsOf(bytes: Buffer): number[] {
  return decodeBatches(bytes).map((batch) => batch.partitionLeaderEpoch);
}

function idempotent(prefix: string, count: number, baseSequence: number): Buffer {
  return valuesBatch(prefix, count, { producerId: PRODUCER, producerEpoch: 0, baseSequence });
}

describe('leader epochs', () => {
  it('stamps the epoch given at open, then the one startLeaderEpoch sets, into each appended batch', async () => {
    const log = await openLog(tempDir(), { leaderEpoch: 3 });
    await log.append(valuesBatch('a', 2));
    await log.startLeaderEpoch(5);
    await log.append(valuesBatch('b', 1, { partitionLeaderEpoch: 99 })); // a producer's value is overwritten
    expect(epochsOf(log.read(0, 1 << 20).bytes)).toEqual([3, 5]);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 3, startOffset: 0 }, { epoch: 5, startOffset: 2 }]);
    await log.close();
  });

  it('starts a newer epoch at the log end when the replica becomes leader, before any append', async () => {
    const log = await leaderWith([0], [4]);
    await log.startLeaderEpoch(2);
    expect(log.latestLeaderEpoch).toBe(2);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 4 }]);
    await log.startLeaderEpoch(2); // the same epoch again: nothing new
    expect(log.leaderEpochEntries()).toHaveLength(2);
    await expect(log.startLeaderEpoch(1)).rejects.toThrow(/older than its latest epoch 2/);
    await log.close();
  });

  it('starts the epoch in turn: after the follower batches queued before it, before the leader appends issued after it', async () => {
    const log = await openLog();
    const records = Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: randomBytes(4096) }));
    const large = buildBatch(records, { compression: CompressionCodec.Gzip });
    expect(needsPoolValidation(large)).toBe(true);
    const pooled = log.append(large); // offsets 0..39, validated in the pool: what follows waits its turn
    const followed = log.appendAsFollower(valuesBatch('f', 2, { baseOffset: 40n, partitionLeaderEpoch: 3 })); // in flight, 40..41
    const started = log.startLeaderEpoch(5);
    const led = log.append(valuesBatch('led', 1)); // issued before the epoch is recorded: still stamped with it, after it
    expect(await pooled).toMatchObject({ firstOffset: 0, lastOffset: 39 });
    expect(await followed).toMatchObject({ firstOffset: 40, lastOffset: 41 });
    await started;
    expect(await led).toMatchObject({ firstOffset: 42, lastOffset: 42 });
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 40 }, { epoch: 5, startOffset: 42 }]);
    expect(epochsOf(log.read(0, 1 << 20).bytes)).toEqual([0, 3, 5]);
    await log.close();
  });

  it('checks the epoch against the latest once its turn comes: a newer one written by a follower append before it refuses it', async () => {
    const log = await openLog();
    const truncated = log.truncateTo(0); // asynchronous, in turn: the follower append waits behind it
    const followed = log.appendAsFollower(valuesBatch('f', 2, { partitionLeaderEpoch: 7 }));
    const refused = log.startLeaderEpoch(5);
    await truncated;
    expect(await followed).toMatchObject({ firstOffset: 0, lastOffset: 1 });
    await expect(refused).rejects.toThrow(/leader epoch 5 of .* is older than its latest epoch 7/);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 7, startOffset: 0 }]);
    expect((await log.append(valuesBatch('led', 1))).firstOffset).toBe(2);
    expect(epochsOf(log.read(0, 1 << 20).bytes)).toEqual([7, 0]); // the stamped epoch did not change
    await log.startLeaderEpoch(7); // the latest epoch: only the stamp changes
    await log.append(valuesBatch('led7', 1));
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 7, startOffset: 0 }]);
    expect(epochsOf(log.read(0, 1 << 20).bytes)).toEqual([7, 0, 7]);
    await log.close();
  });

  it('keeps one entry per epoch, at the first batch written in it, across several epochs', async () => {
    const log = await leaderWith([0, 0, 1, 1, 4, 7], [2, 3, 1, 2, 5, 1]);
    expect(log.leaderEpochEntries()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 1, startOffset: 5 },
      { epoch: 4, startOffset: 8 },
      { epoch: 7, startOffset: 13 },
    ]);
    expect(fs.readFileSync(path.join(log.dir, EPOCH_FILE), 'utf8')).toBe('0\n4\n0 0\n1 5\n4 8\n7 13\n');
    await log.close();
  });

  it('answers endOffsetForLeaderEpoch as Kafka: the latest epoch ends at the log end, an older one where the next starts', async () => {
    const log = await leaderWith([1, 3, 6], [5, 4, 2]); // epoch 1 at 0, 3 at 5, 6 at 9; log end 11
    expect(log.endOffsetForLeaderEpoch(6)).toEqual({ leaderEpoch: 6, endOffset: 11 });
    expect(log.endOffsetForLeaderEpoch(3)).toEqual({ leaderEpoch: 3, endOffset: 9 });
    expect(log.endOffsetForLeaderEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 5 });
    expect(log.endOffsetForLeaderEpoch(4)).toEqual({ leaderEpoch: 3, endOffset: 9 }); // never saw 4: answered for 3
    expect(log.endOffsetForLeaderEpoch(0)).toEqual({ leaderEpoch: -1, endOffset: -1 }); // below every epoch
    expect(log.endOffsetForLeaderEpoch(9)).toEqual({ leaderEpoch: -1, endOffset: -1 }); // above the latest
    await log.close();
    const empty = await openLog();
    expect(empty.latestLeaderEpoch).toBe(-1);
    expect(empty.endOffsetForLeaderEpoch(0)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    await empty.close();
  });

  it('ignores batches from no leader (epoch -1)', async () => {
    const follower = await openLog();
    const batch = valuesBatch('none', 2); // the builder's default epoch is -1
    expect(batch.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET)).toBe(-1);
    await follower.appendAsFollower(batch);
    expect(follower.leaderEpochEntries()).toEqual([]);
    expect(follower.latestLeaderEpoch).toBe(-1);
    await follower.close();
  });

  it('survives a clean reopen from its file', async () => {
    const dir = tempDir();
    const log = await leaderWith([0, 2, 5], [3, 3, 3], dir);
    const entries = log.leaderEpochEntries();
    await log.close();
    const reopened = await openLog(dir);
    expect(reopened.leaderEpochEntries()).toEqual(entries);
    expect(reopened.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 6 });
    await reopened.close();
  });

  it('is rebuilt from the batches after an unclean stop, without the entries a torn tail lost', async () => {
    const dir = tempDir();
    const log = await leaderWith([0, 2, 5], [3, 3, 3], dir);
    await log.flush();
    const copy = crashCopy(dir);
    await log.close();
    const segment = path.join(copy, '00000000000000000000.log');
    fs.truncateSync(segment, fs.statSync(segment).size - 5); // the epoch 5 batch torn
    fs.writeFileSync(path.join(copy, EPOCH_FILE), '0\n2\n0 0\n1 1\n'); // a file out of date: recovery must not trust it past the recovery point
    fs.writeFileSync(path.join(copy, 'checkpoint'), 'ferry-checkpoint v1\nlogStartOffset 0\nrecoveryPoint 0\ncleanShutdown 0\n');
    const recovered = await openLog(copy);
    expect(recovered.logEndOffset).toBe(6);
    expect(recovered.leaderEpochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }]);
    expect(fs.readFileSync(path.join(copy, EPOCH_FILE), 'utf8')).toBe('0\n2\n0 0\n2 3\n');
    await recovered.close();
  });

  it('is rebuilt from every segment when its file is missing', async () => {
    const dir = tempDir();
    const log = await leaderWith([0, 1, 1, 3, 3, 8], [20, 20, 20, 20, 20, 20], dir, { config: config({ segmentBytes: 1500 }) });
    const entries = log.leaderEpochEntries();
    expect(log.segmentCount).toBeGreaterThan(1); // epochs spread over segments
    await log.close();
    fs.rmSync(path.join(dir, EPOCH_FILE));
    const reopened = await openLog(dir, { config: config({ segmentBytes: 1500 }) });
    expect(reopened.leaderEpochEntries()).toEqual(entries);
    expect(fs.existsSync(path.join(dir, EPOCH_FILE))).toBe(true);
    await reopened.close();
    fs.writeFileSync(path.join(dir, EPOCH_FILE), '0\n3\n0 0\n'); // torn: reads as no file
    const again = await openLog(dir, { config: config({ segmentBytes: 1500 }) });
    expect(again.leaderEpochEntries()).toEqual(entries);
    await again.close();
  });

  it('after an unclean stop rebuilds the entries from the recovery point on from the batches', async () => {
    const dir = tempDir();
    const log = await leaderWith([0, 2], [3, 3], dir);
    await log.flush(); // recovery point 6
    await log.startLeaderEpoch(4);
    await log.append(valuesBatch('unflushed', 2));
    const copy = crashCopy(dir);
    await log.close();
    // Past the recovery point the file is not trusted: an entry there that the batches do not bear out goes.
    fs.writeFileSync(path.join(copy, EPOCH_FILE), '0\n3\n0 0\n2 3\n9 7\n');
    fs.writeFileSync(path.join(copy, 'checkpoint'), 'ferry-checkpoint v1\nlogStartOffset 0\nrecoveryPoint 6\ncleanShutdown 0\n');
    const recovered = await openLog(copy);
    expect(recovered.logEndOffset).toBe(8);
    expect(recovered.leaderEpochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }, { epoch: 4, startOffset: 6 }]);
    await recovered.close();
  });

  it('moves the epoch holding a new log start up to it, and drops the epochs wholly below it', async () => {
    const log = await leaderWith([0, 1, 2], [5, 5, 5]);
    log.deleteRecordsBefore(7);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 1, startOffset: 7 }, { epoch: 2, startOffset: 10 }]);
    await log.close();
  });
});

describe('appendAsFollower', () => {
  it("keeps the leader's offsets, epochs, timestamps and CRCs: the follower's log reads back byte for byte as the leader's", async () => {
    const leader = await leaderWith([0, 2, 2, 3], [3, 1, 4, 2], tempDir(), { config: config({ timestampType: 'LogAppendTime' }) });
    const leaderBytes = leader.read(0, 1 << 20).bytes;
    const follower = await openLog();
    const first = await follower.appendAsFollower(Buffer.from(leader.read(0, 1 << 20, { maxOffset: 4 }).bytes));
    expect(first).toMatchObject({ firstOffset: 0, lastOffset: 3, recordCount: 4 });
    const rest = await follower.appendAsFollower(Buffer.from(leader.read(4, 1 << 20).bytes));
    expect(rest).toMatchObject({ firstOffset: 4, lastOffset: 9, recordCount: 6 });
    expect(follower.read(0, 1 << 20).bytes.equals(leaderBytes)).toBe(true);
    expect(follower.leaderEpochEntries()).toEqual(leader.leaderEpochEntries());
    expect(follower.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 8 });
    await leader.close();
    await follower.close();
  });

  it('refuses a gap or an overlap with OFFSET_OUT_OF_RANGE, and writes nothing of it', async () => {
    const leader = await leaderWith([1], [10]);
    const batches = decodeBatches(leader.read(0, 1 << 20).bytes);
    expect(batches).toHaveLength(1);
    for (let i = 0; i < 3; i++) await leader.append(valuesBatch(`more${i}`, 2));
    const follower = await openLog();
    await follower.appendAsFollower(Buffer.from(leader.read(0, 1 << 20, { maxOffset: 10 }).bytes));
    const sizeBefore = follower.sizeBytes;
    const at12 = Buffer.from(leader.read(12, 1 << 20).bytes); // skips 10..11: a gap
    expect((await expectRefused(follower.appendAsFollower(at12), 'OFFSET_OUT_OF_RANGE')).message).toMatch(/starts at offset 12, expected the log end 10/);
    const overlap = Buffer.from(leader.read(0, 1 << 20).bytes); // 0..15 again
    await expectRefused(follower.appendAsFollower(overlap), 'OFFSET_OUT_OF_RANGE');
    const at10 = leader.read(10, 1 << 20).bytes;
    const gapInside = Buffer.concat([at10.subarray(0, at10.length / 3), at10.subarray((2 * at10.length) / 3)]); // 10..11 then 14..15
    await expectRefused(follower.appendAsFollower(gapInside), 'OFFSET_OUT_OF_RANGE');
    expect(follower.sizeBytes).toBe(sizeBefore);
    expect(follower.logEndOffset).toBe(10);
    const corrupt = Buffer.from(at10);
    corrupt[corrupt.length - 3]! ^= 0x01;
    await expectRefused(follower.appendAsFollower(corrupt), 'CORRUPT_MESSAGE');
    expect((await follower.appendAsFollower(Buffer.from(at10))).lastOffset).toBe(15);
    await leader.close();
    await follower.close();
  });

  it('learns producer state from the batches: the next sequence is accepted once it leads, a resend is a duplicate', async () => {
    const leader = await openLog();
    await leader.append(idempotent('p', 2, 0));
    await leader.append(idempotent('q', 3, 2));
    const follower = await openLog();
    await follower.appendAsFollower(Buffer.from(leader.read(0, 1 << 20).bytes));
    expect(follower.producerEntries()).toEqual(leader.producerEntries());
    await follower.startLeaderEpoch(1);
    expect(await follower.append(idempotent('q', 3, 2))).toMatchObject({ duplicate: true, firstOffset: 2, lastOffset: 4 });
    await expectRefused(follower.append(idempotent('x', 1, 9)), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(await follower.append(idempotent('r', 1, 5))).toMatchObject({ firstOffset: 5, lastOffset: 5 });
    await leader.close();
    await follower.close();
  });

  it('accepts what a produce would refuse: control and compacted-empty batches, records over max.message.bytes', async () => {
    const big = valuesBatch('big', 4, { valueBytes: 400, partitionLeaderEpoch: 2 });
    const follower = await openLog(tempDir(), { config: config({ maxMessageBytes: 600 }) });
    await expectRefused(follower.append(Buffer.from(big)), 'MESSAGE_TOO_LARGE');
    expect(await follower.appendAsFollower(big)).toMatchObject({ firstOffset: 0, lastOffset: 3 });
    const control = valuesBatch('marker', 1, { baseOffset: 4n, isControl: true, partitionLeaderEpoch: 2 });
    expect(await follower.appendAsFollower(control)).toMatchObject({ firstOffset: 4, lastOffset: 4 });
    expect(follower.leaderEpochEntries()).toEqual([{ epoch: 2, startOffset: 0 }]);
    await follower.close();
  });

  it('allows gaps between batches on a compacted topic (the cleaner drops whole batches), never an overlap', async () => {
    const follower = await openLog(tempDir(), { config: config({ cleanupCompact: true }) });
    await follower.appendAsFollower(valuesBatch('a', 2, { partitionLeaderEpoch: 0 }));
    const afterGap = valuesBatch('b', 2, { baseOffset: 5n, partitionLeaderEpoch: 0 });
    expect(await follower.appendAsFollower(afterGap)).toMatchObject({ firstOffset: 5, lastOffset: 6 });
    expect(follower.logEndOffset).toBe(7);
    await expectRefused(follower.appendAsFollower(valuesBatch('c', 1, { baseOffset: 6n, partitionLeaderEpoch: 0 })), 'OFFSET_OUT_OF_RANGE');
    await follower.close();
  });

  it('waits its turn behind an append validated in the pool, and tells the append listeners', async () => {
    const log = await openLog();
    let told = 0;
    log.onAppend(() => told++);
    const records = Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: randomBytes(4096) }));
    const large = buildBatch(records, { compression: CompressionCodec.Gzip });
    expect(needsPoolValidation(large)).toBe(true);
    const pooled = log.append(large);
    // Only right if it runs after the pooled append: it must start at the log end 40.
    const followed = log.appendAsFollower(valuesBatch('f', 2, { baseOffset: 40n, partitionLeaderEpoch: 0 }));
    expect(await pooled).toMatchObject({ firstOffset: 0, lastOffset: 39 });
    expect(await followed).toMatchObject({ firstOffset: 40, lastOffset: 41 });
    expect(told).toBe(2);
    await log.close();
  });
});

/** A log of `batches` batches of `perBatch` records each (offsets 0..batches*perBatch-1), in small segments. */
async function logOfBatches(batches: number, perBatch: number, dir = tempDir(), options: Partial<PartitionLogOptions> = {}): Promise<PartitionLog> {
  const log = await openLog(dir, { config: config({ segmentBytes: 1024 }), ...options });
  for (let i = 0; i < batches; i++) await log.append(valuesBatch(`b${i}`, perBatch, { valueBytes: 40 }));
  return log;
}

function offsetsOf(log: PartitionLog): number[] {
  return readAll(log).map((record) => Number(record.offset));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('truncateTo', () => {
  it('cuts inside a segment at a batch boundary, and appends continue at the new end', async () => {
    const log = await logOfBatches(5, 2, tempDir(), { config: config() });
    await log.truncateTo(6);
    expect(log.logEndOffset).toBe(6);
    expect(offsetsOf(log)).toEqual(range(0, 6));
    expect(await log.append(valuesBatch('next', 3))).toMatchObject({ firstOffset: 6, lastOffset: 8 });
    expect(offsetsOf(log)).toEqual(range(0, 9));
    expect(readAll(log).at(-1)!.value!.toString()).toBe('next-2');
    await log.close();
  });

  it('in the middle of a batch takes the whole batch: the log end becomes its base offset', async () => {
    const log = await logOfBatches(3, 4, tempDir(), { config: config() }); // batches 0..3, 4..7, 8..11
    await log.truncateTo(6);
    expect(log.logEndOffset).toBe(4);
    expect(offsetsOf(log)).toEqual(range(0, 4));
    expect((await log.append(valuesBatch('n', 1))).firstOffset).toBe(4);
    await log.close();
  });

  it('at a segment boundary, and across several segments, deleting the segments after the cut', async () => {
    const log = await logOfBatches(40, 2);
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(4);
    await log.truncateTo(bases[3]!);
    expect(log.segmentBaseOffsets()).toEqual(bases.slice(0, 4));
    expect(log.logEndOffset).toBe(bases[3]);
    expect(offsetsOf(log)).toEqual(range(0, bases[3]!));
    const inFirst = bases[1]! - 2; // the last batch of the first segment
    await log.truncateTo(inFirst);
    expect(log.segmentBaseOffsets()).toEqual([0]);
    expect(log.logEndOffset).toBe(inFirst);
    const files = fs.readdirSync(log.dir).filter((name) => /\.(log|index|timeindex)$/.test(name));
    expect(files.sort()).toEqual(['00000000000000000000.index', '00000000000000000000.log', '00000000000000000000.timeindex']);
    for (let i = 0; i < 30; i++) await log.append(valuesBatch(`again${i}`, 2, { valueBytes: 40 }));
    expect(offsetsOf(log)).toEqual(range(0, inFirst + 60));
    expect(log.segmentCount).toBeGreaterThan(3);
    await log.close();
  });

  it('to the log end or beyond does nothing', async () => {
    const log = await logOfBatches(4, 2);
    const sizeBefore = log.sizeBytes;
    await log.truncateTo(8);
    await log.truncateTo(1000);
    expect(log.logEndOffset).toBe(8);
    expect(log.sizeBytes).toBe(sizeBefore);
    await log.close();
  });

  it('to 0 empties the log and keeps its first segment', async () => {
    const log = await logOfBatches(20, 2);
    await log.truncateTo(0);
    expect(log.logEndOffset).toBe(0);
    expect(log.segmentBaseOffsets()).toEqual([0]);
    expect(log.sizeBytes).toBe(0);
    expect((await log.append(valuesBatch('z', 1))).firstOffset).toBe(0);
    await log.close();
  });

  it('keeps the recovery point at or below the new end, and the truncated log is what a clean or unclean reopen finds', async () => {
    const dir = tempDir();
    const log = await logOfBatches(30, 2, dir);
    await log.flush();
    expect(log.flushedOffset).toBe(60);
    await log.truncateTo(25);
    expect(log.logEndOffset).toBe(24);
    expect(log.flushedOffset).toBeLessThanOrEqual(24);
    expect(fs.readFileSync(path.join(dir, 'checkpoint'), 'utf8')).toMatch(/recoveryPoint (\d+)/);
    const recoveryPoint = Number(/recoveryPoint (\d+)/.exec(fs.readFileSync(path.join(dir, 'checkpoint'), 'utf8'))![1]);
    expect(recoveryPoint).toBeLessThanOrEqual(24);
    await log.append(valuesBatch('after', 3, { valueBytes: 40 }));
    const crashed = crashCopy(dir);
    await log.close();
    for (const where of [dir, crashed]) {
      const reopened = await openLog(where, { config: config({ segmentBytes: 1024 }) });
      expect(reopened.logEndOffset).toBe(27);
      expect(offsetsOf(reopened)).toEqual(range(0, 27));
      expect(readAll(reopened).slice(24).map((record) => record.value!.toString().slice(0, 7))).toEqual(['after-0', 'after-1', 'after-2']);
      await reopened.close();
    }
  });

  it('drops the leader epochs that started at or after the new end, in memory and in the file', async () => {
    const log = await leaderWith([0, 1, 2, 3], [4, 4, 4, 4]); // epochs start at 0, 4, 8, 12
    await log.truncateTo(9);
    expect(log.logEndOffset).toBe(8);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 4 }]);
    expect(fs.readFileSync(path.join(log.dir, EPOCH_FILE), 'utf8')).toBe('0\n2\n0 0\n1 4\n');
    expect(log.endOffsetForLeaderEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 8 });
    await log.startLeaderEpoch(5);
    await log.append(valuesBatch('new', 1));
    expect(log.leaderEpochEntries().at(-1)).toEqual({ epoch: 5, startOffset: 8 });
    await log.close();
  });

  it('forgets the producer batches it removed: their resend is written again, and snapshots past the new end go', async () => {
    const dir = tempDir();
    const log = await openLog(dir, { config: config({ segmentBytes: 1024 }) });
    for (let i = 0; i < 30; i++) await log.append(valuesBatch(`p${i}`, 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: i * 2, valueBytes: 40 }));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the rolls' snapshots are written in the background
    expect(snapshotOffsets(fs.readdirSync(dir)).some((offset) => offset > 20)).toBe(true);
    await log.truncateTo(20);
    expect(snapshotOffsets(fs.readdirSync(dir)).every((offset) => offset <= 20)).toBe(true);
    expect(log.producerEntries()[0]!.batches.at(-1)).toMatchObject({ firstSeq: 18, lastSeq: 19, lastOffset: 19 });
    await expectRefused(log.append(valuesBatch('p12', 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 24 })), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    const resent = await log.append(valuesBatch('p10', 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 20 }));
    expect(resent).toMatchObject({ firstOffset: 20, lastOffset: 21 });
    expect(resent.duplicate).toBeUndefined();
    expect(await log.append(valuesBatch('p9', 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: 18 }))).toMatchObject({ duplicate: true, firstOffset: 18 });
    await log.close();
    const reopened = await openLog(dir, { config: config({ segmentBytes: 1024 }) });
    expect(reopened.producerEntries()[0]!.batches.at(-1)).toMatchObject({ firstSeq: 20, lastSeq: 21, firstOffset: 20 });
    await reopened.close();
  });

  it('waits for the appends before it: an append validated in the pool is written, then cut', async () => {
    const log = await logOfBatches(5, 2, tempDir(), { config: config() });
    const records = Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: randomBytes(4096) }));
    const pooled = log.append(buildBatch(records, { compression: CompressionCodec.Gzip }));
    const truncated = log.truncateTo(20); // inside the pooled batch 10..49 once it is written
    expect(await pooled).toMatchObject({ firstOffset: 10, lastOffset: 49 });
    await truncated;
    expect(log.logEndOffset).toBe(10);
    expect((await log.append(valuesBatch('later', 1))).firstOffset).toBe(10);
    await log.close();
  });

  it('below the log start empties the log and starts it at the offset asked', async () => {
    const log = await logOfBatches(20, 2);
    log.deleteRecordsBefore(30);
    await log.truncateTo(12);
    expect(log.logStartOffset).toBe(12);
    expect(log.logEndOffset).toBe(12);
    expect(log.segmentBaseOffsets()).toEqual([12]);
    await log.close();
  });
});

describe('truncateFullyAndStartAt', () => {
  it('deletes every segment, snapshot, epoch and producer, and starts an empty log at the offset', async () => {
    const dir = tempDir();
    const log = await openLog(dir, { config: config({ segmentBytes: 1024 }) });
    await log.startLeaderEpoch(3);
    for (let i = 0; i < 30; i++) await log.append(valuesBatch(`p${i}`, 2, { producerId: PRODUCER, producerEpoch: 0, baseSequence: i * 2, valueBytes: 40 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(snapshotOffsets(fs.readdirSync(dir)).length).toBeGreaterThan(0);
    await log.truncateFullyAndStartAt(500);
    expect(log.logStartOffset).toBe(500);
    expect(log.logEndOffset).toBe(500);
    expect(log.segmentBaseOffsets()).toEqual([500]);
    expect(log.producerEntries()).toEqual([]);
    expect(log.leaderEpochEntries()).toEqual([]);
    expect(snapshotOffsets(fs.readdirSync(dir))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, EPOCH_FILE), 'utf8')).toBe('0\n0\n');
    const followed = await log.appendAsFollower(valuesBatch('f', 2, { baseOffset: 500n, partitionLeaderEpoch: 7, producerId: PRODUCER, producerEpoch: 0, baseSequence: 90 }));
    expect(followed).toMatchObject({ firstOffset: 500, lastOffset: 501 });
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 7, startOffset: 500 }]);
    await log.close();
    const reopened = await openLog(dir, { config: config({ segmentBytes: 1024 }) });
    expect(reopened.logStartOffset).toBe(500);
    expect(offsetsOf(reopened)).toEqual([500, 501]);
    expect(reopened.leaderEpochEntries()).toEqual([{ epoch: 7, startOffset: 500 }]);
    expect(reopened.producerEntries()[0]!.batches.at(-1)).toMatchObject({ firstSeq: 90, lastSeq: 91 });
    await reopened.close();
  });
});
