/**
 * A led partition's replication state (leader-replica.ts) on a real log:
 * the high watermark is the smallest log end among the ISR and never moves
 * back, acks=all waits for it, followers that stop catching up are named for
 * the ISR to drop, caught-up ones to join, and losing the leadership fails
 * every waiting produce.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { LeaderReplica } from '../../src/broker/leader-replica.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, tempDir, valuesBatch } from '../storage/helpers.js';

afterAll(() => closeSharedStoragePool());

const placement = (isr: number[]) => ({ leader: 1, leaderEpoch: 3, replicas: [1, 2, 3], isr });

async function leader(isr = [1, 2, 3]): Promise<{ log: PartitionLog; replica: LeaderReplica; clock: { now: number }; woken: () => number }> {
  const log = await PartitionLog.open({ dir: tempDir(), config: config() });
  const clock = { now: 1_000 };
  let wakes = 0;
  const replica = new LeaderReplica(log, 1, placement(isr), 0, () => clock.now, () => wakes++);
  return { log, replica, clock, woken: () => wakes };
}

async function errorOf(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    return error as FerryError;
  }
  throw new Error('expected a rejection');
}

describe('LeaderReplica', () => {
  it('moves the high watermark to the smallest log end in the ISR once every member has fetched, and wakes consumers', async () => {
    const { log, replica, woken } = await leader();
    await log.append(valuesBatch('a', 10));
    expect(replica.highWatermark).toBe(0); // followers not heard from yet
    replica.followerFetched(2, 10);
    expect(replica.highWatermark).toBe(0);
    replica.followerFetched(3, 4);
    expect(replica.highWatermark).toBe(4);
    replica.followerFetched(3, 10);
    expect(replica.highWatermark).toBe(10);
    expect(woken()).toBe(2);
    replica.followerFetched(2, 2); // a follower that truncated: the high watermark never moves back
    expect(replica.highWatermark).toBe(10);
    await log.close();
  });

  it('counts a replica it asked to add to the ISR until the next placement (maximal ISR), unless it stops catching up', async () => {
    const { log, replica, clock } = await leader([1, 2]);
    await log.append(valuesBatch('a', 4));
    replica.followerFetched(2, 4);
    replica.followerFetched(3, 2);
    expect(replica.highWatermark).toBe(4);
    await log.append(valuesBatch('b', 4));
    replica.followerFetched(3, 4);
    replica.expectJoining([3]); // proposed: the controller may already have written it in
    replica.followerFetched(2, 8);
    expect(replica.highWatermark).toBe(4); // waits for 3 too
    replica.followerFetched(3, 8);
    expect(replica.highWatermark).toBe(8);
    await log.append(valuesBatch('c', 2));
    replica.followerFetched(2, 10);
    clock.now += 60_000; // 3 stopped fetching: the controller did not take it
    replica.forgetStaleJoining(30_000);
    expect(replica.highWatermark).toBe(10);
    await log.close();
  });

  it('is the log end at once when the ISR is the leader alone', async () => {
    const { log, replica } = await leader([1]);
    await log.append(valuesBatch('a', 5));
    expect(replica.highWatermark).toBe(5);
    await log.close();
  });

  it('answers acks=all once the high watermark passes the batch, NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the minimum meanwhile', async () => {
    const { log, replica } = await leader();
    const appended = await log.append(valuesBatch('a', 3));
    let done = false;
    const waiting = replica.awaitHighWatermark(appended.lastOffset + 1, 10_000, 2).then(() => (done = true));
    replica.followerFetched(2, 3);
    await Promise.resolve();
    expect(done).toBe(false);
    replica.followerFetched(3, 3);
    await waiting;
    expect(done).toBe(true);

    const next = await log.append(valuesBatch('b', 1));
    const shrunk = replica.awaitHighWatermark(next.lastOffset + 1, 10_000, 2);
    replica.update(placement([1])); // the controller applied a shrink to the leader alone: the high watermark reaches the log end
    expect((await errorOf(shrunk)).errorName).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    await log.close();
  });

  it('times out acks=all with REQUEST_TIMED_OUT, and fails waiters with NOT_LEADER_OR_FOLLOWER when leadership is lost', async () => {
    const { log, replica } = await leader();
    const appended = await log.append(valuesBatch('a', 1));
    expect((await errorOf(replica.awaitHighWatermark(appended.lastOffset + 1, 20, 1))).errorName).toBe('REQUEST_TIMED_OUT');
    const pending = replica.awaitHighWatermark(appended.lastOffset + 1, 10_000, 1);
    replica.close();
    expect((await errorOf(pending)).errorName).toBe('NOT_LEADER_OR_FOLLOWER');
    await log.close();
  });

  it('names ISR members that have not caught up within the lag time, and caught-up outsiders that fetch', async () => {
    const { log, replica, clock } = await leader();
    await log.append(valuesBatch('a', 10));
    replica.followerFetched(2, 10);
    replica.followerFetched(3, 5);
    clock.now += 2_000;
    replica.followerFetched(2, 10); // caught up again
    replica.followerFetched(3, 7); // fetching, but never reaching the end it saw last time
    expect(replica.laggingMembers(1_500)).toEqual([3]);
    expect(replica.laggingMembers(5_000)).toEqual([]);

    replica.update(placement([1, 2]));
    clock.now += 100;
    replica.followerFetched(3, 10);
    expect(replica.caughtUpOutsiders(1_500)).toEqual([3]);
    clock.now += 10_000; // stopped fetching: no longer ready, whatever it once had
    expect(replica.caughtUpOutsiders(1_500)).toEqual([]);
    await log.close();
  });
});
