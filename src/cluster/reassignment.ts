/**
 * The controller's decisions on moving a partition's replicas, as Kafka's
 * controller makes them (KIP-455). Pure: the partition state and the
 * operator's request in, the state to write out.
 *
 *   start      replicas = target followed by the old replicas not in it;
 *              adding = target minus old, removing = old minus target, and
 *              the throttle recorded; leader and ISR unchanged. The adding
 *              replicas copy the log from the leader and join the ISR the
 *              ordinary way (the leader's ISR change requests).
 *   complete   once every target replica is in the ISR: replicas = target,
 *              ISR = ISR within the target, the reassignment fields gone;
 *              a leader outside the target hands over to the first target
 *              replica in the ISR, with the leader epoch bumped.
 *   replace    a request for a partition already moving starts again from
 *              the partition's original replicas (Kafka lets an operator
 *              cancel or change a reassignment).
 *
 * The target of a running reassignment is not stored apart: it is always
 * replicas minus removing, so the state alone says where it is going and a
 * new controller finishes what its predecessor started.
 */

import type { PartitionState, ReassignmentRequest } from './keys.js';

/** What the controller does for one partition. */
export type ReassignmentStep =
  /** Write the state; the request stays (the move has started and runs). */
  | { kind: 'start'; state: PartitionState }
  /** Write the state, then delete the request: the move is done. */
  | { kind: 'complete'; state: PartitionState }
  /** The partition already is as asked: delete the request. */
  | { kind: 'done' };

export function isReassigning(state: PartitionState): boolean {
  return state.adding !== undefined || state.removing !== undefined;
}

/** Where the partition's replicas are going (its replicas when nothing moves). */
export function reassignmentTarget(state: PartitionState): number[] {
  const removing = state.removing ?? [];
  return state.replicas.filter((id) => !removing.includes(id));
}

/** The next step for a partition, given the request for it (if any); null: nothing to do now. */
export function reassignmentStep(state: PartitionState, request: ReassignmentRequest | undefined): ReassignmentStep | null {
  const reassigning = isReassigning(state);
  if (request) {
    const asked = reassigning
      ? sameIds(reassignmentTarget(state), request.replicas) && (state.throttleBytesPerSecond ?? null) === request.throttleBytesPerSecond
      : sameIds(state.replicas, request.replicas);
    if (!asked) {
      const started = startReassignment(state, request);
      // Only the order changed (a new preferred leader): nothing to copy, done at once.
      return isReassigning(started) ? { kind: 'start', state: started } : { kind: 'complete', state: started };
    }
    if (!reassigning) return { kind: 'done' };
  }
  if (!reassigning) return null;
  const completed = completeReassignment(state);
  return completed ? { kind: 'complete', state: completed } : null;
}

/**
 * The state that starts moving the partition to `request.replicas`. A
 * running reassignment is replaced: its adding replicas are dropped unless
 * the new target keeps them, except a leader (one that was elected from
 * the adding replicas after the original leader died), which stays.
 */
export function startReassignment(state: PartitionState, request: ReassignmentRequest): PartitionState {
  const target = request.replicas;
  const previouslyAdding = state.adding ?? [];
  const original = state.replicas.filter((id) => !previouslyAdding.includes(id) || id === state.leader);
  const adding = target.filter((id) => !original.includes(id));
  const removing = original.filter((id) => !target.includes(id));
  const replicas = [...target, ...removing];
  const isr = state.isr.filter((id) => replicas.includes(id));
  const base = { leader: state.leader, leaderEpoch: state.leaderEpoch, replicas, isr };
  if (adding.length === 0 && removing.length === 0) return base;
  return { ...base, adding, removing, throttleBytesPerSecond: request.throttleBytesPerSecond };
}

/** The state that ends a running reassignment, or null while a target replica is not yet in sync (or the partition has no leader). */
export function completeReassignment(state: PartitionState): PartitionState | null {
  const target = reassignmentTarget(state);
  if (state.leader === -1 || !target.every((id) => state.isr.includes(id))) return null;
  const isr = state.isr.filter((id) => target.includes(id));
  const base = { replicas: target, isr };
  if (target.includes(state.leader)) return { ...base, leader: state.leader, leaderEpoch: state.leaderEpoch };
  // Every target replica is in the ISR here, so the first of them leads.
  return { ...base, leader: target.find((id) => isr.includes(id))!, leaderEpoch: state.leaderEpoch + 1 };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}
