/**
 * The controller's decisions on one partition (leader-election.ts): Kafka's
 * rules for electing from the ISR, going offline, unclean elections,
 * preferred leaders and leaders' ISR change requests.
 */

import { describe, expect, it } from 'vitest';
import { applyIsrChange, electLeader } from '../../src/cluster/leader-election.js';
import type { PartitionState } from '../../src/cluster/keys.js';

const clean = { unclean: false, preferred: false };
const state = (leader: number, leaderEpoch: number, isr: number[], replicas = [1, 2, 3]): PartitionState => ({ leader, leaderEpoch, replicas, isr });

describe('electLeader', () => {
  it('changes nothing while the leader and every ISR member are live', () => {
    expect(electLeader(state(1, 4, [1, 2, 3]), new Set([1, 2, 3]), clean)).toBeNull();
  });

  it('takes dead followers out of the ISR without a new leader epoch', () => {
    expect(electLeader(state(1, 4, [1, 2, 3]), new Set([1, 3]), clean)).toEqual(state(1, 4, [1, 3]));
  });

  it('replaces a dead leader by the first live ISR member in replica order, with the epoch bumped', () => {
    expect(electLeader(state(1, 4, [3, 1, 2], [1, 2, 3]), new Set([2, 3]), clean)).toEqual({ leader: 2, leaderEpoch: 5, replicas: [1, 2, 3], isr: [3, 2] });
  });

  it('never elects a live replica outside the ISR: with no live ISR member the partition goes offline and keeps its ISR', () => {
    const offline = electLeader(state(1, 4, [1]), new Set([2, 3]), clean);
    expect(offline).toEqual(state(-1, 5, [1]));
    expect(electLeader(offline!, new Set([2, 3]), clean)).toBeNull(); // stays offline, no epoch churn
    expect(electLeader(offline!, new Set([1, 2, 3]), clean)).toEqual(state(1, 6, [1])); // the ISR member returns
  });

  it('elects any live replica when unclean.leader.election.enable is on, with an ISR of itself', () => {
    expect(electLeader(state(1, 4, [1]), new Set([3]), { unclean: true, preferred: false })).toEqual(state(3, 5, [3]));
  });

  it('gives the leadership back to a live in-sync preferred replica only when asked', () => {
    const moved = state(2, 5, [1, 2, 3]);
    expect(electLeader(moved, new Set([1, 2, 3]), clean)).toBeNull();
    expect(electLeader(moved, new Set([1, 2, 3]), { unclean: false, preferred: true })).toEqual(state(1, 6, [1, 2, 3]));
    expect(electLeader(state(2, 5, [2, 3]), new Set([1, 2, 3]), { unclean: false, preferred: true })).toBeNull(); // preferred not in sync yet
  });
});

describe('applyIsrChange', () => {
  const live = new Set([1, 2, 3]);

  it('applies a shrink or an expansion the current leader asks for at its epoch, in replica order', () => {
    expect(applyIsrChange(state(1, 4, [1, 2, 3]), { leader: 1, leaderEpoch: 4, isr: [1, 3] }, live)).toEqual(state(1, 4, [1, 3]));
    expect(applyIsrChange(state(1, 4, [1, 3]), { leader: 1, leaderEpoch: 4, isr: [3, 1, 2] }, live)).toEqual(state(1, 4, [1, 2, 3]));
  });

  it('refuses a request from a former leader or an older epoch', () => {
    expect(applyIsrChange(state(2, 5, [1, 2, 3]), { leader: 1, leaderEpoch: 4, isr: [1] }, live)).toHaveProperty('refused');
    expect(applyIsrChange(state(1, 5, [1, 2, 3]), { leader: 1, leaderEpoch: 4, isr: [1] }, live)).toHaveProperty('refused');
  });

  it('refuses a request made on an ISR the controller has changed since (it could bring back a member just removed)', () => {
    const now = state(1, 4, [1, 3]); // the controller dropped 2 (dead); 2 came back before this stale request was handled
    expect(applyIsrChange(now, { leader: 1, leaderEpoch: 4, basedOn: [1, 2, 3], isr: [1, 2] }, live)).toHaveProperty('refused');
    expect(applyIsrChange(now, { leader: 1, leaderEpoch: 4, basedOn: [3, 1], isr: [1] }, live)).toEqual(state(1, 4, [1]));
  });

  it('refuses an ISR without its leader, with a non-replica, or adding a broker that is not live', () => {
    expect(applyIsrChange(state(1, 4, [1, 2]), { leader: 1, leaderEpoch: 4, isr: [2] }, live)).toHaveProperty('refused');
    expect(applyIsrChange(state(1, 4, [1, 2]), { leader: 1, leaderEpoch: 4, isr: [1, 2, 9] }, live)).toHaveProperty('refused');
    expect(applyIsrChange(state(1, 4, [1, 2]), { leader: 1, leaderEpoch: 4, isr: [1, 2, 3] }, new Set([1, 2]))).toHaveProperty('refused');
  });
});
