/**
 * Offsets retention (Kafka's offsets.retention.minutes): which committed
 * offsets have outlived their use, and the pass, every
 * offsetsRetentionCheckIntervalMs, that writes their tombstones to
 * __consumer_offsets, forgets them, and removes groups left with nothing.
 *
 * Each group is expired as one step on its GroupStepQueue lane: the decision
 * is made after every commit queued before it has been stored and applied,
 * and no commit is applied between the decision and the tombstones. So a
 * commit acknowledged to a client is never the one a pass deletes on the
 * strength of the offset it replaced, in memory or on disk.
 */

import { FerryError } from '../../errors.js';
import { CONSUMER_PROTOCOL_TYPE, decodeSubscription } from './consumer-protocol.js';
import { offsetKey, type CommittedOffset, type Group } from './group.js';
import type { GroupStepQueue } from './group-step-queue.js';
import type { OffsetsTopic, OffsetsTopicRecord } from './offsets-topic.js';
import { encodeGroupMetadataKey, encodeOffsetCommitKey } from './offsets-topic-records.js';

export interface RetentionHooks {
  /** offsets.retention.minutes, in ms. */
  retentionMs: number;
  /** offsets.retention.check.interval.ms */
  checkIntervalMs: number;
  groups: ReadonlyMap<string, Group>;
  steps: GroupStepQueue;
  store: OffsetsTopic;
  now(): number;
  /** Takes an emptied group out (Dead, timers cleared, forgotten); its metadata tombstone is already stored. */
  removeGroup(group: Group): void;
  reportError(error: unknown, what: string): void;
  isClosed(): boolean;
}

export class OffsetsRetention {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly hooks: RetentionHooks) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => {
      this.expire().catch((error: unknown) => this.hooks.reportError(error, 'expiring offsets'));
    }, this.hooks.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass over every group; returns how many offsets expired. */
  async expire(): Promise<number> {
    const nowMs = this.hooks.now();
    let expiredCount = 0;
    for (const group of [...this.hooks.groups.values()]) {
      if (this.hooks.isClosed()) break;
      // A cheap look first, so idle groups queue nothing; the step decides again on the lane.
      if (!this.hasWork(group, nowMs)) continue;
      expiredCount += await this.hooks.steps.run(group.groupId, () => this.expireGroup(group, nowMs));
    }
    return expiredCount;
  }

  private hasWork(group: Group, nowMs: number): boolean {
    const expired = expiredOffsets(group, nowMs, this.hooks.retentionMs);
    return expired.length > 0 || isRemovable(group, expired.length);
  }

  private async expireGroup(group: Group, nowMs: number): Promise<number> {
    // Deleted while this step waited, or left holding nothing by a failed first commit (dropped once its lane drains, no tombstone due).
    if (this.hooks.groups.get(group.groupId) !== group || group.isUnused) return 0;
    const expired = expiredOffsets(group, nowMs, this.hooks.retentionMs);
    const removeGroup = isRemovable(group, expired.length);
    if (expired.length === 0 && !removeGroup) return 0;
    const tombstones: OffsetsTopicRecord[] = expired.map(({ topic, partition }) => ({ key: encodeOffsetCommitKey(group.groupId, topic, partition), value: null }));
    if (removeGroup) tombstones.push({ key: encodeGroupMetadataKey(group.groupId), value: null });
    await this.hooks.store.append(group.groupId, tombstones);
    for (const { topic, partition } of expired) group.offsets.delete(offsetKey(topic, partition));
    // Re-checked after the append: a member may have joined meanwhile (membership does not queue on the lane).
    if (removeGroup && isRemovable(group, 0)) this.hooks.removeGroup(group);
    return expired.length;
  }
}

/**
 * As Kafka's, with one difference: an offset of an empty group expires
 * retentionMs after the later of the group becoming empty and its commit
 * (Kafka: after the group became empty), so a commit into a long-empty
 * group is not deleted by the next pass right after being acknowledged.
 * A simple committer's (no protocol type) offsets each expire retentionMs
 * after their commit; a stable consumer group's only for topics it no
 * longer subscribes to. Other states keep everything.
 */
export function expiredOffsets(group: Group, nowMs: number, retentionMs: number): CommittedOffset[] {
  const retention = BigInt(retentionMs);
  const now = BigInt(nowMs);
  const offsets = [...group.offsets.values()];
  if (group.state === 'Empty') {
    const emptySinceMs = group.protocolType === null ? 0n : BigInt(group.stateTimestampMs);
    return offsets.filter((offset) => maxBigInt(emptySinceMs, offset.commitTimestampMs) + retention <= now);
  }
  if (group.state === 'Stable' && group.protocolType === CONSUMER_PROTOCOL_TYPE) {
    const subscribed = subscribedTopics(group);
    return offsets.filter((offset) => !subscribed.has(offset.topic) && offset.commitTimestampMs + retention <= now);
  }
  return [];
}

/** An empty group goes once it has no member, no pending member id, and no offset left after `expiredCount` expire. */
function isRemovable(group: Group, expiredCount: number): boolean {
  return group.state === 'Empty' && group.size === 0 && expiredCount === group.offsets.size;
}

/** Topics the members of a consumer group subscribe to, from their metadata for the chosen protocol. */
export function subscribedTopics(group: Group): Set<string> {
  const topics = new Set<string>();
  for (const member of group.members.values()) {
    try {
      for (const topic of decodeSubscription(member.metadataFor(group.protocolName ?? '')).topics) topics.add(topic);
    } catch (error) {
      if (!(error instanceof FerryError)) throw error; // unreadable subscription: it names no topic we can honour
    }
  }
  return topics;
}

function maxBigInt(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
