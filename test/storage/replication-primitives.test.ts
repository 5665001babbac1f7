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
    if (epochs[i] !== log.latestLeaderEpoch) log.startLeaderEpoch(epochs[i]!);
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
    log.startLeaderEpoch(5);
    await log.append(valuesBatch('b', 1, { partitionLeaderEpoch: 99 })); // a producer's value is overwritten
    expect(epochsOf(log.read(0, 1 << 20).bytes)).toEqual([3, 5]);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 3, startOffset: 0 }, { epoch: 5, startOffset: 2 }]);
    await log.close();
  });

  it('starts a newer epoch at the log end when the replica becomes leader, before any append', async () => {
    const log = await leaderWith([0], [4]);
    log.startLeaderEpoch(2);
    expect(log.latestLeaderEpoch).toBe(2);
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 4 }]);
    log.startLeaderEpoch(2); // the same epoch again: nothing new
    expect(log.leaderEpochEntries()).toHaveLength(2);
    expect(() => log.startLeaderEpoch(1)).toThrow(/older than its latest epoch 2/);
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
    follower.startLeaderEpoch(1);
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
