/**
 * The controller's reassignment decisions (reassignment.ts), KIP-455's
 * rules: start with target + leaving replicas, complete once the target is
 * in sync (moving the leader if it leaves), replace a running move; and the
 * election rules (leader-election.ts) keep working on a moving partition.
 */

import { describe, expect, it } from 'vitest';
import { decodePartitionState, encodePartitionState, type PartitionState } from '../../src/cluster/keys.js';
import { applyIsrChange, electLeader } from '../../src/cluster/leader-election.js';
import { completeReassignment, reassignmentStep, reassignmentTarget, startReassignment } from '../../src/cluster/reassignment.js';

const settled = (leader: number, isr: number[], replicas = [1, 2, 3], leaderEpoch = 4): PartitionState => ({ leader, leaderEpoch, replicas, isr });
const to = (replicas: number[], throttleBytesPerSecond: number | null = null) => ({ replicas, throttleBytesPerSecond });

describe('startReassignment', () => {
  it('puts the target first, the leaving replicas after it, and records adding, removing and the throttle; leader and ISR unchanged', () => {
    expect(startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4], 1000))).toEqual({
      leader: 1, leaderEpoch: 4, replicas: [2, 3, 4, 1], isr: [1, 2, 3], adding: [4], removing: [1], throttleBytesPerSecond: 1000,
    });
  });

  it('replaces a running move from the original replicas: an adding replica the new target drops leaves replicas and ISR', () => {
    const moving = startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4]));
    const joined = { ...moving, isr: [1, 2, 3, 4] };
    expect(startReassignment(joined, to([1, 2, 5], 500))).toEqual({
      leader: 1, leaderEpoch: 4, replicas: [1, 2, 5, 3], isr: [1, 2, 3], adding: [5], removing: [3], throttleBytesPerSecond: 500,
    });
  });

  it('cancels: the original replicas as the target leave nothing to move', () => {
    const moving = startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4]));
    expect(startReassignment(moving, to([1, 2, 3]))).toEqual(settled(1, [1, 2, 3]));
  });
});

describe('completeReassignment', () => {
  const moving = startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4], 1000));

  it('waits while a target replica is not in the ISR', () => {
    expect(completeReassignment(moving)).toBeNull();
    expect(completeReassignment({ ...moving, leader: -1, isr: [1, 2, 3, 4] })).toBeNull();
  });

  it('ends with the target as replicas, the ISR within it, and the first target replica leading (epoch bumped) when the leader leaves', () => {
    expect(completeReassignment({ ...moving, isr: [1, 2, 3, 4] })).toEqual({ leader: 2, leaderEpoch: 5, replicas: [2, 3, 4], isr: [2, 3, 4] });
  });

  it('keeps a leader that stays, at its epoch', () => {
    const keeping = startReassignment(settled(2, [1, 2, 3]), to([2, 3, 4]));
    expect(completeReassignment({ ...keeping, isr: [1, 2, 3, 4] })).toEqual({ leader: 2, leaderEpoch: 4, replicas: [2, 3, 4], isr: [2, 3, 4] });
  });
});

describe('reassignmentStep', () => {
  it('starts on a request, waits while copying, completes once in sync, and is done when the state already matches', () => {
    const state = settled(1, [1, 2, 3]);
    const request = to([2, 3, 4], 1000);
    const started = reassignmentStep(state, request);
    expect(started).toEqual({ kind: 'start', state: startReassignment(state, request) });
    const moving = (started as { state: PartitionState }).state;
    expect(reassignmentStep(moving, request)).toBeNull();
    expect(reassignmentStep({ ...moving, isr: [1, 2, 3, 4] }, request)).toMatchObject({ kind: 'complete', state: { replicas: [2, 3, 4] } });
    expect(reassignmentStep(settled(2, [2, 3, 4], [2, 3, 4]), request)).toEqual({ kind: 'done' });
  });

  it('completes a running move with no request left (a controller died between writing and deleting)', () => {
    const moving = startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4]));
    expect(reassignmentStep({ ...moving, isr: [1, 2, 3, 4] }, undefined)).toMatchObject({ kind: 'complete' });
    expect(reassignmentStep(settled(1, [1, 2, 3]), undefined)).toBeNull();
  });

  it('restarts with a changed throttle or target, and completes a reorder at once', () => {
    const moving = startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4], 1000));
    expect(reassignmentStep(moving, to([2, 3, 4], 2000))).toEqual({ kind: 'start', state: { ...moving, throttleBytesPerSecond: 2000 } });
    expect(reassignmentStep(settled(1, [1, 2, 3]), to([3, 1, 2]))).toEqual({ kind: 'complete', state: settled(1, [1, 2, 3], [3, 1, 2]) });
    expect(reassignmentTarget(moving)).toEqual([2, 3, 4]);
  });
});

describe('a moving partition in the election rules and in etcd', () => {
  const moving = startReassignment(settled(1, [1, 2, 3]), to([2, 3, 4], 1000));

  it('lets an adding replica join the ISR and keeps the reassignment fields through ISR changes and elections', () => {
    const joined = applyIsrChange(moving, { leader: 1, leaderEpoch: 4, isr: [1, 2, 3, 4] }, new Set([1, 2, 3, 4]));
    expect(joined).toEqual({ ...moving, isr: [2, 3, 4, 1] });
    const elected = electLeader(moving, new Set([2, 3, 4]), { unclean: false, preferred: false });
    expect(elected).toEqual({ ...moving, leader: 2, leaderEpoch: 5, isr: [2, 3] });
  });

  it('encodes the reassignment fields only while a move runs, and decodes them back', () => {
    const settledState = settled(1, [1, 2, 3]);
    expect(JSON.parse(encodePartitionState(settledState))).toEqual(settledState);
    expect(decodePartitionState('k', encodePartitionState(moving))).toEqual(moving);
    expect(() => decodePartitionState('k', JSON.stringify({ ...moving, throttleBytesPerSecond: -1 }))).toThrow(/not a partition state/);
  });
});
