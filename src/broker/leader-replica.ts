/**
 * A partition this broker leads in a cluster, as Kafka's leader keeps it:
 * how far each follower has fetched, the high watermark, and the produce
 * requests waiting for it (acks=all).
 *
 *   - A follower's fetch at offset N says it holds everything below N: N is
 *     its log end. It is caught up when N reaches the leader's log end as it
 *     is now or as it was at the follower's previous fetch (Kafka's
 *     lastCaughtUpTime), so a follower that keeps fetching under steady
 *     appends is not counted as lagging.
 *   - The high watermark is the smallest log end among the ISR (the leader's
 *     own included); it never moves back. A follower whose log end is not
 *     known yet (this broker has just become leader) holds it where it is.
 *   - ISR changes are proposed, not made: a lagging member leaves and a
 *     caught-up replica joins only when the controller writes the new state
 *     (`update` then applies it). Kafka's AlterPartition.
 */

import { FerryError } from '../errors.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { PartitionPlacement } from './topic-placements.js';

interface FollowerProgress {
  /** -1 until the follower's first fetch after this broker became leader. */
  logEndOffset: number;
  /** The leader's log end at this follower's previous fetch. */
  leaderEndAtLastFetch: number;
  lastCaughtUpMs: number;
}

interface HighWatermarkWaiter {
  offset: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class LeaderReplica {
  private placementNow: PartitionPlacement;
  /** Replicas proposed to join the ISR and not yet seen in a placement: counted for the high watermark (Kafka's maximal ISR). */
  private joining: number[] = [];
  private followers = new Map<number, FollowerProgress>();
  private waiters: HighWatermarkWaiter[] = [];
  private hw: number;
  /** The log end when this broker became leader: where its epoch's records begin. */
  private readonly epochStartOffset: number;
  private closed = false;
  private readonly stopListening: () => void;

  constructor(
    readonly log: PartitionLog,
    readonly brokerId: number,
    placement: PartitionPlacement,
    /** The high watermark this broker knew as a follower (or the log start): where it starts as leader. */
    initialHighWatermark: number,
    private readonly clock: () => number,
    /** Called when the high watermark moves (consumers waiting for it are woken). */
    private readonly onHighWatermark: () => void,
  ) {
    this.placementNow = placement;
    this.hw = Math.min(Math.max(initialHighWatermark, log.logStartOffset), log.logEndOffset);
    this.epochStartOffset = log.logEndOffset;
    const now = clock();
    // Kafka starts every follower as caught up now: a new leader gives each a full lag window.
    for (const id of placement.replicas) if (id !== brokerId) this.followers.set(id, { logEndOffset: -1, leaderEndAtLastFetch: -1, lastCaughtUpMs: now });
    this.stopListening = log.onAppend(() => this.maybeAdvance());
    this.maybeAdvance();
  }

  get placement(): PartitionPlacement {
    return this.placementNow;
  }

  get leaderEpoch(): number {
    return this.placementNow.leaderEpoch;
  }

  get highWatermark(): number {
    return this.hw;
  }

  /** Replicas this leader asked the controller to add to the ISR: from now until the next placement, the high watermark waits for them too. */
  expectJoining(ids: readonly number[]): void {
    for (const id of ids) if (!this.joining.includes(id)) this.joining.push(id);
  }

  /** Proposed joiners that have stopped catching up no longer hold the high watermark back (the controller did not take them). */
  forgetStaleJoining(lagMaxMs: number): void {
    if (this.joining.length === 0) return;
    const now = this.clock();
    this.joining = this.joining.filter((id) => {
      const progress = this.followers.get(id);
      return progress !== undefined && now - progress.lastCaughtUpMs <= lagMaxMs;
    });
    this.maybeAdvance();
  }

  /** A new state for the same leader epoch (the ISR or replicas changed). */
  update(placement: PartitionPlacement): void {
    this.placementNow = placement;
    this.joining = [];
    const now = this.clock();
    for (const id of placement.replicas) {
      if (id !== this.brokerId && !this.followers.has(id)) this.followers.set(id, { logEndOffset: -1, leaderEndAtLastFetch: -1, lastCaughtUpMs: now });
    }
    for (const id of [...this.followers.keys()]) if (!placement.replicas.includes(id)) this.followers.delete(id);
    this.maybeAdvance();
    this.settleWaiters();
  }

  /** A follower fetched at `fetchOffset`: it holds every offset below it. */
  followerFetched(followerId: number, fetchOffset: number): void {
    const progress = this.followers.get(followerId);
    if (!progress) return;
    const leaderEnd = this.log.logEndOffset;
    const now = this.clock();
    if (fetchOffset >= leaderEnd) progress.lastCaughtUpMs = now;
    else if (progress.leaderEndAtLastFetch >= 0 && fetchOffset >= progress.leaderEndAtLastFetch) progress.lastCaughtUpMs = Math.max(progress.lastCaughtUpMs, now);
    progress.logEndOffset = Math.min(fetchOffset, leaderEnd);
    progress.leaderEndAtLastFetch = leaderEnd;
    this.maybeAdvance();
  }

  /** The ISR members (not the leader) that have not caught up within `lagMaxMs`: replica.lag.time.max.ms. */
  laggingMembers(lagMaxMs: number): number[] {
    const now = this.clock();
    return this.placementNow.isr.filter((id) => {
      if (id === this.brokerId) return false;
      const progress = this.followers.get(id);
      return progress !== undefined && now - progress.lastCaughtUpMs > lagMaxMs;
    });
  }

  /**
   * Replicas outside the ISR that hold everything up to the high watermark
   * and this epoch's start, and have been caught up within `lagMaxMs` (a
   * replica that stopped fetching is not ready, whatever it once had).
   */
  caughtUpOutsiders(lagMaxMs: number): number[] {
    const now = this.clock();
    return this.placementNow.replicas.filter((id) => {
      if (id === this.brokerId || this.placementNow.isr.includes(id)) return false;
      const progress = this.followers.get(id);
      return progress !== undefined && now - progress.lastCaughtUpMs <= lagMaxMs && progress.logEndOffset >= this.hw && progress.logEndOffset >= this.epochStartOffset;
    });
  }

  /** The follower's log end as this leader knows it (-1: not fetched since this broker became leader). */
  followerLogEnd(followerId: number): number {
    return this.followers.get(followerId)?.logEndOffset ?? -1;
  }

  /**
   * Resolves once the high watermark reaches `offset` (an acks=all produce
   * whose last record is offset - 1). NOT_ENOUGH_REPLICAS_AFTER_APPEND when
   * the ISR fell below `minInsync` meanwhile, REQUEST_TIMED_OUT after
   * `timeoutMs`, NOT_LEADER_OR_FOLLOWER when this broker stops leading.
   */
  awaitHighWatermark(offset: number, timeoutMs: number, minInsync: number): Promise<void> {
    if (this.closed) return Promise.reject(notLeader());
    if (this.hw >= offset) return this.placementNow.isr.length >= minInsync ? Promise.resolve() : Promise.reject(tooFewAfterAppend(this.placementNow.isr.length, minInsync));
    return new Promise((resolve, reject) => {
      const waiter: HighWatermarkWaiter = {
        offset,
        resolve: () => (this.placementNow.isr.length >= minInsync ? resolve() : reject(tooFewAfterAppend(this.placementNow.isr.length, minInsync))),
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          reject(new FerryError('REQUEST_TIMED_OUT', `the in-sync replicas did not all have offset ${offset - 1} within ${timeoutMs} ms (high watermark ${this.hw})`));
        }, Math.max(0, timeoutMs)),
      };
      this.waiters.push(waiter);
    });
  }

  /** This broker no longer leads the partition: every waiting produce fails with NOT_LEADER_OR_FOLLOWER. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(notLeader());
    }
  }

  private maybeAdvance(): void {
    if (this.closed) return;
    let candidate = this.log.logEndOffset;
    for (const id of [...this.placementNow.isr, ...this.joining]) {
      if (id === this.brokerId) continue;
      const progress = this.followers.get(id);
      if (!progress || progress.logEndOffset < 0) return; // not heard from since this broker became leader
      candidate = Math.min(candidate, progress.logEndOffset);
    }
    if (candidate <= this.hw) return;
    this.hw = candidate;
    this.settleWaiters();
    this.onHighWatermark();
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((waiter) => waiter.offset <= this.hw);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => waiter.offset > this.hw);
    for (const waiter of ready) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }
}

function notLeader(): FerryError {
  return new FerryError('NOT_LEADER_OR_FOLLOWER', 'this broker no longer leads the partition; the record may or may not have been replicated, retry on the new leader');
}

function tooFewAfterAppend(isr: number, minInsync: number): FerryError {
  return new FerryError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `the record was written, but the ISR shrank to ${isr} below min.insync.replicas=${minInsync}`);
}
