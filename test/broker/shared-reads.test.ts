import { afterAll, describe, expect, it } from 'vitest';
import { SharedReads } from '../../src/broker/shared-reads.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, tempDir, valuesBatch } from '../storage/helpers.js';

afterAll(closeSharedStoragePool);

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function logOfTwoBatches(): Promise<PartitionLog> {
  const log = await PartitionLog.open({ dir: tempDir(), config: config() });
  await log.append(valuesBatch('a', 3));
  await log.append(valuesBatch('b', 3));
  return log;
}

describe('shared reads', () => {
  it('serves the fetches of one turn at the same offset from one read', async () => {
    const log = await logOfTwoBatches();
    const reads = new SharedReads();
    const first = reads.read(log, 0, 1 << 20);
    const second = reads.read(log, 0, 1 << 20);
    expect(second).toBe(first);
    expect(reads.shared).toBe(1);
    expect(reads.read(log, 3, 1 << 20)).not.toBe(first); // another offset
    await log.close();
  });

  it('reads again after an append, and in the next turn', async () => {
    const log = await logOfTwoBatches();
    const reads = new SharedReads();
    const before = reads.read(log, 0, 1 << 20);
    await log.append(valuesBatch('c', 3));
    const after = reads.read(log, 0, 1 << 20);
    expect(after).not.toBe(before);
    expect(after.nextOffset).toBe(9);
    await nextTurn();
    const later = reads.read(log, 0, 1 << 20);
    expect(later).not.toBe(after);
    expect(later.bytes.equals(after.bytes)).toBe(true);
    expect(reads.shared).toBe(0);
    await log.close();
  });

  it('shares across maxBytes only what a fresh read would answer', async () => {
    const log = await logOfTwoBatches();
    const reads = new SharedReads();
    const whole = reads.read(log, 0, 1 << 20);
    expect(whole.nextOffset).toBe(6);
    // Reached the log end and fits: the same answer for any maxBytes at least its size.
    expect(reads.read(log, 0, whole.bytes.length)).toBe(whole);
    // A smaller maxBytes gets fewer batches: read afresh.
    const cut = reads.read(log, 0, whole.bytes.length - 1);
    expect(cut).not.toBe(whole);
    expect(cut.nextOffset).toBe(3);
    // An answer cut short by its maxBytes is not handed to a fetch that may have more.
    expect(reads.read(log, 0, 1 << 20).nextOffset).toBe(6);
    await log.close();
  });
});
