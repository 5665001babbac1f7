/**
 * The classic group coordinator: every consumer group this broker serves,
 * their membership (through rebalance.ts) and their committed offsets, kept
 * in __consumer_offsets (offsets-topic.ts) and reloaded from it at open.
 *
 * Every step that reads a group, decides, appends to __consumer_offsets and
 * applies the outcome runs alone on the group's lane (group-step-queue.ts),
 * so what is on disk, in memory and in the answers agree. A group exists
 * once something of it is accepted (a member, a pending member id, an
 * offset) and is forgotten as soon as it holds nothing again (Group.isUnused);
 * at most groupsMax exist. Offsets retention is offsets-retention.ts; the
 * records of a group and its rebuilding at open, stored-groups.ts.
 *
 * In a cluster the groups are spread as Kafka spreads them: a group lives in
 * one partition of __consumer_offsets (offsetsPartitionFor), replicated like
 * any partition, and the broker leading that partition coordinates it. When
 * this broker becomes leader of a partition it loads that partition's groups
 * (loadPartition); when it stops leading it lets them go (unloadPartition),
 * failing their waiting requests with NOT_COORDINATOR, and the clients find
 * the new coordinator. Requests for a group coordinated elsewhere are
 * NOT_COORDINATOR. On a single node this broker coordinates every group.
 *
 * Protocol-neutral: the Kafka door, the WebSocket door and the CLI call
 * these methods. Protocol metadata and assignments are opaque Buffers here
 * (for "consumer" groups they are consumer-protocol.ts bytes; only
 * OffsetDelete looks inside, to refuse deleting offsets of a subscribed
 * topic, as Kafka does). Whole-request failures are FerryErrors (a rejected
 * promise for the async methods, never a synchronous throw); per-partition
 * and per-member outcomes are returned.
 */

import type { Broker } from '../broker.js';
import { FerryError } from '../../errors.js';
import { CONSUMER_PROTOCOL_TYPE } from './consumer-protocol.js';
import { Group, offsetKey, type CommittedOffset, type GroupState } from './group.js';
import { GroupStepQueue } from './group-step-queue.js';
import { DEFAULT_GROUP_SETTINGS, GROUP_ID_CHARS_MAX, MEMBER_METADATA_BYTES_MAX, PROTOCOLS_PER_MEMBER_MAX, type GroupCoordinatorSettings } from './limits.js';
import type { JoinResult, SyncResult } from './member.js';
import { OffsetsRetention, subscribedTopics } from './offsets-retention.js';
import { OffsetsTopic, type OffsetsTopicRecord } from './offsets-topic.js';
import { encodeGroupMetadataKey, encodeOffsetCommitKey, encodeOffsetCommitValue, offsetsPartitionFor } from './offsets-topic-records.js';
import { Rebalancer, type HeartbeatRequest, type JoinRequest, type MemberIdentity, type SyncRequest } from './rebalance.js';
import { groupMetadataRecord, replayStoredRecord } from './stored-groups.js';

export interface GroupCoordinatorOptions extends Partial<GroupCoordinatorSettings> {
  clock?: () => number;
  /** Failures nobody waits on (a background store, an unreadable __consumer_offsets record); a process warning by default. */
  reportError?: (error: unknown, what: string) => void;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface OffsetToCommit extends TopicPartition {
  offset: bigint;
  /** -1 (unknown) by default. */
  leaderEpoch?: number;
  /** Free-form; null and absent are stored as "". */
  metadata?: string | null;
  /** Now by default (OffsetCommit v1 lets the client set it). */
  commitTimestampMs?: bigint;
}

export interface CommitRequest {
  groupId: string;
  /** -1 for a commit from outside group management (only accepted while the group has no members). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: readonly OffsetToCommit[];
}

export interface PartitionOutcome extends TopicPartition {
  /** Null when this partition succeeded. */
  error: FerryError | null;
}

export interface FetchedOffset extends TopicPartition {
  /** -1 when nothing is committed. */
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
}

export interface GroupListing {
  groupId: string;
  /** "" for a group that only ever committed offsets. */
  protocolType: string;
  state: GroupState;
}

export interface MemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Metadata for the chosen protocol and the assignment: only while the group is Stable, empty otherwise (as Kafka). */
  metadata: Buffer;
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  /** Dead for a group this coordinator does not know. */
  state: GroupState;
  protocolType: string;
  /** The chosen protocol while Stable, "" otherwise. */
  protocolName: string;
  generationId: number;
  leaderId: string | null;
  members: MemberDescription[];
}

export interface MemberOutcome extends MemberIdentity {
  error: FerryError | null;
}

export interface GroupOutcome {
  groupId: string;
  error: FerryError | null;
}

export class GroupCoordinator {
  readonly settings: GroupCoordinatorSettings;
  private readonly groups = new Map<string, Group>();
  private readonly store: OffsetsTopic;
  private readonly rebalancer: Rebalancer;
  private readonly steps: GroupStepQueue;
  private readonly retention: OffsetsRetention;
  private readonly now: () => number;
  private readonly reportError: (error: unknown, what: string) => void;
  private closed = false;
  /** Cluster mode: the __consumer_offsets partitions whose groups this broker coordinates (those it leads, loaded). Null on a single node: all. */
  private owned: Set<number> | null = null;
  /** Cluster mode: partitions being loaded (COORDINATOR_LOAD_IN_PROGRESS for their groups), each with the token of its load. */
  private readonly loading = new Map<number, symbol>();

  constructor(
    private readonly broker: Broker,
    options: GroupCoordinatorOptions = {},
  ) {
    const { clock, reportError, ...settings } = options;
    this.settings = { ...DEFAULT_GROUP_SETTINGS, ...definedOnly(settings) };
    this.now = clock ?? Date.now;
    this.reportError = reportError ?? ((error, what) => process.emitWarning(`group coordinator: ${what}: ${error instanceof Error ? error.message : String(error)}`));
    this.store = new OffsetsTopic(broker, this.settings.offsetsTopicPartitions, this.now);
    this.steps = new GroupStepQueue((groupId) => this.dropIfUnused(groupId));
    this.rebalancer = new Rebalancer({
      settings: this.settings,
      now: this.now,
      storeGroup: (group) => this.storeGroup(group),
      reportError: this.reportError,
      isClosed: () => this.closed,
      pendingMemberExpired: (group) => this.dropIfUnused(group.groupId),
    });
    this.retention = new OffsetsRetention({
      retentionMs: this.settings.offsetsRetentionMs,
      checkIntervalMs: this.settings.offsetsRetentionCheckIntervalMs,
      groups: this.groups,
      steps: this.steps,
      store: this.store,
      now: this.now,
      removeGroup: (group) => this.removeGroup(group),
      reportError: this.reportError,
      isClosed: () => this.closed,
    });
  }

  // --- membership --------------------------------------------------------------------------

  async join(request: JoinRequest): Promise<JoinResult> {
    this.assertOpen();
    this.checkCoordinator(request.groupId);
    const { sessionTimeoutMinMs, sessionTimeoutMaxMs } = this.settings;
    if (!Number.isInteger(request.sessionTimeoutMs) || request.sessionTimeoutMs < sessionTimeoutMinMs || request.sessionTimeoutMs > sessionTimeoutMaxMs) {
      throw new FerryError('INVALID_SESSION_TIMEOUT', `session timeout ${request.sessionTimeoutMs} ms is outside the broker's ${sessionTimeoutMinMs}-${sessionTimeoutMaxMs} ms`);
    }
    if (request.protocols.length > PROTOCOLS_PER_MEMBER_MAX) throw new FerryError('INVALID_REQUEST', `${request.protocols.length} protocols offered; at most ${PROTOCOLS_PER_MEMBER_MAX}`);
    for (const protocol of request.protocols) checkMetadataSize(protocol.metadata, `metadata of protocol ${protocol.name}`);
    const rebalanceTimeoutMs = request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs;
    let group = this.groups.get(request.groupId);
    if (!group) {
      if (request.memberId !== '') throw new FerryError('UNKNOWN_MEMBER_ID', `group ${request.groupId} does not exist, so member ${request.memberId} is not in it`);
      group = this.createGroup(request.groupId);
    }
    try {
      return await this.rebalancer.join(group, { ...request, rebalanceTimeoutMs });
    } catch (error) {
      this.dropIfUnused(request.groupId); // a refused first join leaves nothing behind
      throw error;
    }
  }

  async sync(request: SyncRequest): Promise<SyncResult> {
    this.assertOpen();
    this.checkCoordinator(request.groupId);
    for (const entry of request.assignments) checkMetadataSize(entry.assignment, `assignment of member ${entry.memberId}`);
    return this.rebalancer.sync(this.groupForMember(request.groupId, request.memberId), request);
  }

  heartbeat(request: HeartbeatRequest): void {
    this.assertOpen();
    this.checkCoordinator(request.groupId);
    this.rebalancer.heartbeat(this.groupForMember(request.groupId, request.memberId), request);
  }

  /** LeaveGroup: each member's outcome (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, or null for left). */
  leave(groupId: string, members: readonly MemberIdentity[]): MemberOutcome[] {
    this.assertOpen();
    this.checkCoordinator(groupId);
    const group = this.groups.get(groupId);
    const outcomes = members.map((identity) => {
      try {
        if (!group) throw new FerryError('UNKNOWN_MEMBER_ID', `group ${groupId} does not exist`);
        this.rebalancer.leave(group, identity);
        return { ...identity, error: null };
      } catch (error) {
        if (!(error instanceof FerryError)) throw error;
        return { ...identity, error };
      }
    });
    this.dropIfUnused(groupId); // the last pending member id of a new group left
    return outcomes;
  }

  // --- offsets -----------------------------------------------------------------------------

  /** OffsetCommit: acknowledged once stored. Group-level refusals are thrown; per-partition ones returned. */
  async commitOffsets(request: CommitRequest): Promise<PartitionOutcome[]> {
    this.assertOpen();
    this.checkCoordinator(request.groupId);
    return this.step(request.groupId, () => this.commit(request));
  }

  /** Sets offsets of a group with no members (the `ferry groups` reset); NON_EMPTY_GROUP while it has members. */
  async resetOffsets(groupId: string, offsets: readonly OffsetToCommit[]): Promise<PartitionOutcome[]> {
    this.assertOpen();
    this.checkCoordinator(groupId);
    return this.step(groupId, () => {
      const group = this.groups.get(groupId);
      if (group && group.members.size > 0) throw new FerryError('NON_EMPTY_GROUP', `group ${groupId} has ${group.members.size} members: stop them before resetting its offsets`);
      return this.commit({ groupId, generationId: -1, memberId: '', groupInstanceId: null, offsets });
    });
  }

  /** One commit, on the group's lane: authorized and validated, stored, then applied. */
  private async commit(request: CommitRequest): Promise<PartitionOutcome[]> {
    const existing = this.groups.get(request.groupId);
    if (existing) this.authorizeCommit(existing, request);
    else if (request.generationId >= 0) throw new FerryError('ILLEGAL_GENERATION', `group ${request.groupId} does not exist, so it has no generation ${request.generationId}`);
    const { outcomes, accepted } = this.acceptOffsets(request.offsets);
    if (accepted.length === 0) return outcomes; // nothing to store: no group is made for it
    // Made before the append so groupsMax holds; forgotten when this step ends if the append fails (unused).
    const group = existing ?? this.createGroup(request.groupId);
    await this.store.append(
      group.groupId,
      accepted.map((committed) => ({ key: encodeOffsetCommitKey(group.groupId, committed.topic, committed.partition), value: encodeOffsetCommitValue(committed) })),
    );
    for (const committed of accepted) group.offsets.set(offsetKey(committed.topic, committed.partition), committed);
    return outcomes;
  }

  /** Each partition's outcome, and the offsets to store for those accepted. */
  private acceptOffsets(offsets: readonly OffsetToCommit[]): { outcomes: PartitionOutcome[]; accepted: CommittedOffset[] } {
    const nowMs = BigInt(this.now());
    const outcomes: PartitionOutcome[] = [];
    const accepted: CommittedOffset[] = [];
    for (const entry of offsets) {
      const error = this.commitError(entry);
      outcomes.push({ topic: entry.topic, partition: entry.partition, error });
      if (error) continue;
      const commitTimestampMs = entry.commitTimestampMs !== undefined && entry.commitTimestampMs >= 0n ? entry.commitTimestampMs : nowMs;
      accepted.push({ topic: entry.topic, partition: entry.partition, offset: entry.offset, leaderEpoch: entry.leaderEpoch ?? -1, metadata: entry.metadata ?? '', commitTimestampMs });
    }
    return { outcomes, accepted };
  }

  /** OffsetFetch: the requested partitions (-1 where nothing is committed), or every committed one when `partitions` is null. */
  fetchOffsets(groupId: string, partitions: readonly TopicPartition[] | null): FetchedOffset[] {
    this.assertOpen();
    this.checkCoordinator(groupId);
    const group = this.groups.get(groupId);
    if (partitions === null) {
      const committed = group ? [...group.offsets.values()] : [];
      return committed.sort(byTopicPartition).map(fetchedOffset);
    }
    return partitions.map(({ topic, partition }) => {
      const committed = group?.offsets.get(offsetKey(topic, partition));
      return committed ? fetchedOffset(committed) : { topic, partition, offset: -1n, leaderEpoch: -1, metadata: null };
    });
  }

  /** OffsetDelete: offsets of topics the group is not subscribed to (any, while it has no members). */
  async deleteOffsets(groupId: string, partitions: readonly TopicPartition[]): Promise<PartitionOutcome[]> {
    this.assertOpen();
    this.checkCoordinator(groupId);
    return this.step(groupId, () => this.deleteOffsetsOf(groupId, partitions));
  }

  private async deleteOffsetsOf(groupId: string, partitions: readonly TopicPartition[]): Promise<PartitionOutcome[]> {
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') throw new FerryError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    if (group.state !== 'Empty' && group.protocolType !== CONSUMER_PROTOCOL_TYPE) {
      throw new FerryError('NON_EMPTY_GROUP', `group ${groupId} has members and is not a consumer group, so its subscriptions are unknown`);
    }
    const subscribed = group.state === 'Empty' ? new Set<string>() : subscribedTopics(group);
    const outcomes = partitions.map(({ topic, partition }) => ({
      topic,
      partition,
      error: subscribed.has(topic) ? new FerryError('GROUP_SUBSCRIBED_TO_TOPIC', `group ${groupId} is subscribed to topic ${topic}`) : null,
    }));
    const deleted = outcomes.filter((outcome) => outcome.error === null && group.offsets.has(offsetKey(outcome.topic, outcome.partition)));
    await this.store.append(groupId, deleted.map(({ topic, partition }) => ({ key: encodeOffsetCommitKey(groupId, topic, partition), value: null })));
    for (const { topic, partition } of deleted) group.offsets.delete(offsetKey(topic, partition));
    return outcomes;
  }

  // --- groups ------------------------------------------------------------------------------

  /** ListGroups; `states` (case-insensitive state names) filters when non-empty. */
  listGroups(options: { states?: readonly string[] } = {}): GroupListing[] {
    this.assertOpen();
    const states = new Set((options.states ?? []).map((state) => state.toLowerCase()));
    return [...this.groups.values()]
      .filter((group) => group.state !== 'Dead' && (states.size === 0 || states.has(group.state.toLowerCase())))
      .map((group) => ({ groupId: group.groupId, protocolType: group.protocolType ?? '', state: group.state }));
  }

  describeGroup(groupId: string): GroupDescription {
    this.assertOpen();
    this.checkCoordinator(groupId);
    const group = this.groups.get(groupId);
    if (!group) return { groupId, state: 'Dead', protocolType: '', protocolName: '', generationId: -1, leaderId: null, members: [] };
    const stable = group.state === 'Stable';
    const protocolName = stable ? group.protocolName ?? '' : '';
    const empty = Buffer.alloc(0);
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName,
      generationId: group.generationId,
      leaderId: group.leaderId,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata: stable ? member.metadataFor(protocolName) : empty,
        assignment: stable ? member.assignment : empty,
      })),
    };
  }

  /** DeleteGroups: groups with no members, with their offsets (tombstones in __consumer_offsets). */
  async deleteGroups(groupIds: readonly string[]): Promise<GroupOutcome[]> {
    this.assertOpen();
    return Promise.all(
      groupIds.map(async (groupId) => {
        try {
          await this.deleteGroup(groupId);
          return { groupId, error: null };
        } catch (error) {
          if (!(error instanceof FerryError)) throw error;
          return { groupId, error };
        }
      }),
    );
  }

  private async deleteGroup(groupId: string): Promise<void> {
    this.checkCoordinator(groupId);
    return this.step(groupId, () => this.deleteGroupNow(groupId));
  }

  private async deleteGroupNow(groupId: string): Promise<void> {
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') throw new FerryError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    if (group.state !== 'Empty') throw new FerryError('NON_EMPTY_GROUP', `group ${groupId} has members (${group.state})`);
    const emptySinceMs = group.stateTimestampMs;
    // Dead during the append: a JoinGroup meanwhile is told to retry rather than joining a group about to vanish.
    group.transitionTo('Dead', this.now());
    const tombstones: OffsetsTopicRecord[] = [...group.offsets.values()].map(({ topic, partition }) => ({ key: encodeOffsetCommitKey(groupId, topic, partition), value: null }));
    tombstones.push({ key: encodeGroupMetadataKey(groupId), value: null });
    try {
      await this.store.append(groupId, tombstones);
    } catch (error) {
      // Not deleted after all: back to Empty (not a protocol transition, so set directly).
      group.state = 'Empty';
      group.stateTimestampMs = emptySinceMs;
      throw error;
    }
    this.removeGroup(group);
  }

  // --- lifecycle ---------------------------------------------------------------------------

  /** Rebuilds every group from __consumer_offsets (single-node broker open). Restored members keep their generation and must heartbeat within their session timeout. */
  load(): void {
    this.store.load((record) => this.replay(record));
    this.settleLoaded([...this.groups.values()]);
    this.retention.start();
  }

  /**
   * Cluster mode: groups are coordinated by the leaders of their
   * __consumer_offsets partitions, loaded as this broker comes to lead them.
   * Nothing is coordinated here until then.
   */
  useClusterMode(): void {
    this.owned ??= new Set();
    this.retention.start();
  }

  /**
   * Cluster mode: this broker now leads partition `partition` of
   * __consumer_offsets (of `partitions`): it loads that partition's groups,
   * a slice of the log per event-loop turn so a large partition does not
   * stall the broker, answering COORDINATOR_LOAD_IN_PROGRESS for them
   * meanwhile (clients retry), then coordinates them.
   */
  async loadPartition(partition: number, partitions: number): Promise<void> {
    if (this.closed || !this.owned || this.owned.has(partition) || this.loading.has(partition)) return;
    const token = Symbol(`load ${partition}`);
    this.loading.set(partition, token);
    const before = new Set(this.groups.keys());
    try {
      await this.store.loadPartition(partition, partitions, (record) => this.replay(record), () => this.loading.get(partition) === token && !this.closed);
    } catch (error) {
      this.reportError(error, `loading the groups of __consumer_offsets partition ${partition}`);
    }
    const loaded = [...this.groups.values()].filter((group) => !before.has(group.groupId));
    if (this.loading.get(partition) !== token || this.closed) {
      // Leadership went while loading (unloadPartition ran): what was read is not this broker's to keep.
      for (const group of loaded) if (offsetsPartitionFor(group.groupId, partitions) === partition) this.groups.delete(group.groupId);
      return;
    }
    this.loading.delete(partition);
    this.settleLoaded(loaded);
    this.owned.add(partition);
  }

  /** Cluster mode: this broker no longer leads the partition: its groups go, their waiting members told NOT_COORDINATOR. */
  unloadPartition(partition: number): void {
    if (this.loading.delete(partition)) return; // the load sees its token gone and drops what it read
    if (!this.owned?.delete(partition)) return;
    const partitions = this.store.partitionCount;
    const error = new FerryError('NOT_COORDINATOR', `this broker no longer coordinates the groups of __consumer_offsets partition ${partition}`);
    for (const group of [...this.groups.values()]) {
      if (partitions === null || offsetsPartitionFor(group.groupId, partitions) !== partition) continue;
      this.rebalancer.abandon(group, error);
      this.groups.delete(group.groupId);
    }
  }

  /** Cluster mode: makes __consumer_offsets if it does not exist yet (FindCoordinator's first ask). */
  ensureOffsetsTopic(): Promise<number> {
    return this.store.ensureTopic();
  }

  private replay(record: OffsetsTopicRecord): void {
    try {
      replayStoredRecord(this.groups, record, this.now());
    } catch (error) {
      if (!(error instanceof FerryError)) throw error;
      this.reportError(error, 'skipping an unreadable __consumer_offsets record');
    }
  }

  /** Just loaded: groups with nothing left are forgotten, restored members must heartbeat within their session timeout. */
  private settleLoaded(loaded: Group[]): void {
    for (const group of loaded) {
      // Offsets all deleted and no metadata record: nothing of this group is left.
      if (group.isUnused) {
        this.groups.delete(group.groupId);
        continue;
      }
      for (const member of group.members.values()) this.rebalancer.scheduleSession(group, member);
    }
  }

  /** INVALID_GROUP_ID, or NOT_COORDINATOR (COORDINATOR_NOT_AVAILABLE before __consumer_offsets exists) for a group another broker coordinates. */
  private checkCoordinator(groupId: string): void {
    checkGroupId(groupId);
    if (!this.owned) return;
    const partitions = this.store.partitionCount;
    if (partitions === null) throw new FerryError('COORDINATOR_NOT_AVAILABLE', `__consumer_offsets does not exist yet; FindCoordinator makes it`);
    const partition = offsetsPartitionFor(groupId, partitions);
    // Loading, or named leader in etcd but still taking the leadership (its replica being applied): a moment, not elsewhere.
    if (this.loading.has(partition) || (!this.owned.has(partition) && this.broker.groupCoordinator(groupId) === this.broker.brokerId)) {
      throw new FerryError('COORDINATOR_LOAD_IN_PROGRESS', `broker ${this.broker.brokerId} is loading the groups of __consumer_offsets partition ${partition}; retry`);
    }
    if (!this.owned.has(partition)) throw new FerryError('NOT_COORDINATOR', `broker ${this.broker.brokerId} does not coordinate group ${groupId} (it is in __consumer_offsets partition ${partition}); FindCoordinator names the broker that does`);
  }

  /** One offsets-retention pass now (offsets-retention.ts; it also runs every offsetsRetentionCheckIntervalMs); returns how many offsets expired. */
  async expireOffsets(): Promise<number> {
    this.assertOpen();
    return this.retention.expire();
  }

  /** A topic was deleted: every group forgets its offsets there (tombstones included). */
  async forgetTopic(topic: string): Promise<void> {
    this.assertOpen();
    // A group with a step in flight may be storing an offset of the topic right now; its lane decides after that.
    const affected = [...this.groups.values()].filter((group) => this.steps.isBusy(group.groupId) || hasOffsetsOf(group, topic));
    const settled = await Promise.allSettled(affected.map((group) => this.step(group.groupId, () => this.forgetTopicOf(group.groupId, topic))));
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async forgetTopicOf(groupId: string, topic: string): Promise<void> {
    const group = this.groups.get(groupId);
    if (!group) return;
    const gone = [...group.offsets.values()].filter((offset) => offset.topic === topic);
    await this.store.append(groupId, gone.map(({ partition }) => ({ key: encodeOffsetCommitKey(groupId, topic, partition), value: null })));
    for (const { partition } of gone) group.offsets.delete(offsetKey(topic, partition));
  }

  /**
   * Clears every timer, fails every waiting JoinGroup/SyncGroup, then waits
   * for the steps already under way (a commit's or a group's store) so they
   * reach the log before the broker closes it (broker close).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.retention.stop();
    const error = new FerryError('COORDINATOR_NOT_AVAILABLE', 'the broker is shutting down');
    for (const group of this.groups.values()) this.rebalancer.abandon(group, error);
    await this.steps.settled();
  }

  // --- internals ---------------------------------------------------------------------------

  /** A group for a JoinGroup or a commit: COORDINATOR_NOT_AVAILABLE beyond groupsMax, which clients retry (and log) until a group goes. */
  private createGroup(groupId: string): Group {
    if (this.groups.size >= this.settings.groupsMax) {
      throw new FerryError('COORDINATOR_NOT_AVAILABLE', `this broker already has ${this.groups.size} consumer groups, its maximum (groupsMax ${this.settings.groupsMax}); group ${groupId} cannot be made`);
    }
    const group = new Group(groupId, this.now());
    this.groups.set(groupId, group);
    return group;
  }

  /** Runs one read-decide-append-apply step on the group's lane. */
  private step<T>(groupId: string, body: () => Promise<T>): Promise<T> {
    return this.steps.run(groupId, () => {
      this.assertOpen(); // the broker may have closed while the step waited
      return body();
    });
  }

  /** Deleted or expired: its tombstones are stored. */
  private removeGroup(group: Group): void {
    if (group.state !== 'Dead') group.transitionTo('Dead', this.now());
    group.clearTimers();
    if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
  }

  /** Forgets a group that holds nothing (Group.isUnused) unless a step of it is under way; it stored nothing, so no tombstone is due. */
  private dropIfUnused(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group || !group.isUnused || this.steps.isBusy(groupId)) return;
    group.clearTimers();
    this.groups.delete(groupId);
  }

  /** SyncGroup and Heartbeat name a group that must exist: an unknown one means the member is unknown. */
  private groupForMember(groupId: string, memberId: string): Group {
    checkGroupId(groupId);
    const group = this.groups.get(groupId);
    if (!group) throw new FerryError('UNKNOWN_MEMBER_ID', `group ${groupId} does not exist, so member ${memberId} is not in it`);
    return group;
  }

  /** Kafka's rules: a commit from outside group management only while the group is empty; otherwise a member of the current generation. */
  private authorizeCommit(group: Group, request: CommitRequest): void {
    if (group.state === 'Dead') throw new FerryError('COORDINATOR_NOT_AVAILABLE', `group ${group.groupId} is being deleted`);
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) {
      throw new FerryError('FENCED_INSTANCE_ID', `instance ${request.groupInstanceId} of group ${group.groupId} belongs to another member than ${request.memberId}`);
    }
    if (request.generationId < 0 && group.state === 'Empty') return;
    if (group.state === 'CompletingRebalance') throw new FerryError('REBALANCE_IN_PROGRESS', `group ${group.groupId} is completing a rebalance`);
    const member = group.members.get(request.memberId);
    if (!member) throw new FerryError('UNKNOWN_MEMBER_ID', `member ${request.memberId} is not in group ${group.groupId}`);
    this.rebalancer.checkGeneration(group, request.generationId);
    this.rebalancer.scheduleSession(group, member);
  }

  private commitError(entry: OffsetToCommit): FerryError | null {
    const metadataBytes = Buffer.byteLength(entry.metadata ?? '', 'utf8');
    if (metadataBytes > this.settings.offsetMetadataBytesMax) {
      return new FerryError('OFFSET_METADATA_TOO_LARGE', `offset metadata of ${metadataBytes} bytes for ${entry.topic}-${entry.partition} is over offset.metadata.max.bytes (${this.settings.offsetMetadataBytesMax})`);
    }
    try {
      this.broker.checkPartitionExists(entry.topic, entry.partition);
    } catch (error) {
      if (error instanceof FerryError) return error;
      throw error;
    }
    return null;
  }

  /**
   * The group's metadata as it is now, appended on the group's lane (after
   * the steps queued before it); nothing for a group deleted meanwhile, whose
   * record would bring it back after a restart.
   */
  private storeGroup(group: Group): Promise<void> {
    const record = groupMetadataRecord(group);
    return this.steps.run(group.groupId, async () => {
      if (this.groups.get(group.groupId) !== group) return;
      await this.store.append(group.groupId, [record]);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new FerryError('COORDINATOR_NOT_AVAILABLE', 'the broker is shutting down');
  }
}


function checkGroupId(groupId: string): void {
  if (groupId.length === 0 || groupId.length > GROUP_ID_CHARS_MAX) throw new FerryError('INVALID_GROUP_ID', `group id must be 1 to ${GROUP_ID_CHARS_MAX} characters, not ${groupId.length}`);
}

function checkMetadataSize(bytes: Buffer, what: string): void {
  if (bytes.length > MEMBER_METADATA_BYTES_MAX) throw new FerryError('INVALID_REQUEST', `${what} is ${bytes.length} bytes; at most ${MEMBER_METADATA_BYTES_MAX}`);
}

function hasOffsetsOf(group: Group, topic: string): boolean {
  for (const offset of group.offsets.values()) if (offset.topic === topic) return true;
  return false;
}

function fetchedOffset(committed: CommittedOffset): FetchedOffset {
  return { topic: committed.topic, partition: committed.partition, offset: committed.offset, leaderEpoch: committed.leaderEpoch, metadata: committed.metadata };
}

function byTopicPartition(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
