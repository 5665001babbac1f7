import { afterAll, describe, expect, it } from 'vitest';
import { FetchWaiters } from '../../src/broker/fetch-waiters.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, tempDir, valuesBatch } from '../storage/helpers.js';

afterAll(closeSharedStoragePool);

describe('fetch waiters', () => {
  it('wakes a waiter once for the appends of one event-loop turn, after all of them', async () => {
    const log = await PartitionLog.open({ dir: tempDir(), config: config() });
    const waiters = new FetchWaiters();
    const endSeenByWaiter: number[] = [];
    const waited = waiters.waitForAppend(log, 60_000).then(() => endSeenByWaiter.push(log.logEndOffset));
    // Three appends one after another, all in this turn: the waiter is not woken by the first.
    for (const prefix of ['a', 'b', 'c']) {
      await log.append(valuesBatch(prefix, 1));
      expect(endSeenByWaiter).toEqual([]);
    }
    await waited;
    expect(endSeenByWaiter).toEqual([3]);
    expect(waiters.waiterCount).toBe(0);
    await log.close();
  });

  it('wakes the waiters of every log appended to in that turn, and only those', async () => {
    const appendedTo = await PartitionLog.open({ dir: tempDir(), config: config() });
    const quiet = await PartitionLog.open({ dir: tempDir(), config: config() });
    const waiters = new FetchWaiters();
    const controller = new AbortController();
    const woken: string[] = [];
    const first = waiters.waitForAppend(appendedTo, 60_000).then(() => woken.push('first'));
    const second = waiters.waitForAppend(appendedTo, 60_000).then(() => woken.push('second'));
    const other = waiters.waitForAppend(quiet, 60_000, controller.signal).then(() => woken.push('other'));
    await appendedTo.append(valuesBatch('x', 1));
    await Promise.all([first, second]);
    expect(woken).toEqual(['first', 'second']);
    expect(waiters.waiterCount).toBe(1);
    controller.abort();
    await other;
    expect(waiters.waiterCount).toBe(0);
    await appendedTo.close();
    await quiet.close();
  });
});
