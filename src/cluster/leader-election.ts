/**
 * The controller's decisions on one partition's state, as Kafka's
 * controller makes them. Pure: the state and the live brokers in, the state
 * to write out (or null: nothing to change).
 *
 *   - A dead follower leaves the ISR at once (Kafka's controller does this on
 *     broker failure, so acks=all does not wait out replica.lag.time.max.ms).
 *   - A dead or missing leader is replaced by the first live ISR member in
 *     replica order, with the leader epoch bumped; the ISR keeps only live
 *     members. With none live the partition goes offline (leader -1, epoch
 *     bumped) and the ISR stays as it was, so that a member of it, and only
 *     one (unclean.leader.election.enable=false), is elected when it returns.
 *   - Preferred leader: when asked, a live in-sync first replica takes the
 *     leadership back (Kafka's auto.leader.rebalance.enable).
 *   - An ISR change a leader asked for is applied only if that broker still
 *     leads at the epoch it named, the ISR it started from is still the
 *     ISR, the new one keeps the leader, holds replicas only, and every
 *     member it adds is live (Kafka's AlterPartition checks).
 */

import type { IsrChangeRequest, PartitionState } from './keys.js';

export interface ElectionOptions {
  /** unclean.leader.election.enable: with no live ISR member, elect any live replica (acknowledged records may be lost). */
  unclean: boolean;
  /** Move the leadership to the first replica when it is live and in sync. */
  preferred: boolean;
}

export function electLeader(state: PartitionState, live: ReadonlySet<number>, options: ElectionOptions): PartitionState | null {
  const liveIsr = state.isr.filter((id) => live.has(id));
  const leaderLive = state.leader !== -1 && live.has(state.leader);
  if (leaderLive) {
    const preferred = state.replicas[0]!;
    if (options.preferred && preferred !== state.leader && liveIsr.includes(preferred)) {
      return { ...state, leader: preferred, leaderEpoch: state.leaderEpoch + 1, isr: liveIsr };
    }
    return liveIsr.length === state.isr.length ? null : { ...state, isr: liveIsr };
  }
  const inSync = state.replicas.find((id) => liveIsr.includes(id));
  if (inSync !== undefined) return { ...state, leader: inSync, leaderEpoch: state.leaderEpoch + 1, isr: liveIsr };
  const anyLive = state.replicas.find((id) => live.has(id));
  if (options.unclean && anyLive !== undefined) return { ...state, leader: anyLive, leaderEpoch: state.leaderEpoch + 1, isr: [anyLive] };
  if (state.leader === -1) return null;
  return { ...state, leader: -1, leaderEpoch: state.leaderEpoch + 1 };
}

/** The state after a leader's ISR change request, or a reason it is refused. */
export function applyIsrChange(state: PartitionState, request: IsrChangeRequest, live: ReadonlySet<number>): PartitionState | { refused: string } {
  if (request.leader !== state.leader || request.leaderEpoch !== state.leaderEpoch) {
    return { refused: `broker ${request.leader} at epoch ${request.leaderEpoch} no longer leads (leader ${state.leader}, epoch ${state.leaderEpoch})` };
  }
  // Made on an ISR the controller has changed since (Kafka's partition epoch): it could bring back a member just removed.
  if (request.basedOn && [...request.basedOn].sort((x, y) => x - y).join() !== [...state.isr].sort((x, y) => x - y).join()) {
    return { refused: `made on ISR [${request.basedOn.join(', ')}], which is now [${state.isr.join(', ')}]` };
  }
  if (!request.isr.includes(state.leader)) return { refused: 'the ISR must keep its leader' };
  const notReplicas = request.isr.filter((id) => !state.replicas.includes(id));
  if (notReplicas.length > 0) return { refused: `brokers ${notReplicas.join(',')} are not replicas` };
  const deadJoiners = request.isr.filter((id) => !state.isr.includes(id) && !live.has(id));
  if (deadJoiners.length > 0) return { refused: `brokers ${deadJoiners.join(',')} are not live` };
  const isr = state.replicas.filter((id) => request.isr.includes(id));
  if (isr.join(',') === state.isr.join(',')) return { refused: 'the ISR is already that' };
  return { ...state, isr };
}
