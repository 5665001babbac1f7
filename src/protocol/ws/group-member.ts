/**
 * One socket's membership of one consumer group: the door plays a Kafka
 * consumer for the browser on the broker's coordinator (broker.groups), the
 * same one Kafka clients join, so both kinds share a group.
 *
 *   join       JoinGroup as protocol type "consumer" with a ConsumerProtocol
 *              subscription to the member's topics (the MEMBER_ID_REQUIRED
 *              round trip included); as leader, the broker's assignor
 *              (assignConsumerGroup) assigns every member; then SyncGroup.
 *   stable     one push subscription per assigned topic, each partition
 *              from its committed offset (else the join's `from`), and a
 *              heartbeat every sessionTimeoutMs / GROUP_HEARTBEATS_PER_SESSION
 *              (at most GROUP_HEARTBEAT_INTERVAL_MS_MAX) run by the door, so
 *              a throttled background tab cannot expire.
 *   revoking   a heartbeat said the group is rebalancing (or the generation
 *              moved on): subscriptions end (eager revocation, as Kafka's
 *              classic protocol) and `rebalancing` is pushed. The door waits
 *              for the client's commit for the group, at most the join's
 *              revokeTimeoutMs (Kafka's consumer likewise runs
 *              onPartitionsRevoked before it rejoins), while the old
 *              generation's commit is still accepted.
 *   rejoining  the door joins again; `rebalance` is pushed with the new assignment.
 *   stopped    left, the socket closed, or the member could not rejoin
 *              within joinAttemptsMax attempts (an `error` naming the group).
 *
 * In a cluster the member joins only at the group's coordinator (elsewhere
 * the join fails with NOT_COORDINATOR naming it), and assigned partitions
 * this broker does not lead are not pushed here but listed as `elsewhere`
 * for the client to read at their leaders (coordinator.ts says why).
 * Revocation stays eager: `rebalancing` tells the client to close those
 * reads too before it commits.
 */

import type { Broker } from '../../broker/broker.js';
import {
  CONSUMER_PROTOCOL_TYPE,
  MemberIdRequiredError,
  assignConsumerGroup,
  decodeAssignment,
  encodeSubscription,
  type AssignorName,
  type JoinResult,
  type MemberAssignment,
  type OffsetToCommit,
  type PartitionOutcome,
  type TopicPartitions,
} from '../../broker/groups/index.js';
import { FerryError, type ErrorName } from '../../errors.js';
import { partitionElsewhere, splitByLeader } from './coordinator.js';
import { GROUP_HEARTBEAT_INTERVAL_MS_MAX, GROUP_HEARTBEATS_PER_SESSION, type WsLimits } from './limits.js';
import type { GroupAssignment, ServerMessage, SubscribedPartition, WireAssignor, WireFrom } from './protocol.js';
import type { JoinGroupRequest, PartitionStart } from './requests.js';

/** The client id the coordinator sees for WebSocket members (member ids start with it). */
export const WS_MEMBER_CLIENT_ID = 'ferry-ws';

/** What a membership needs from its socket. */
export interface MemberHost {
  /** Opens a push subscription (limits checked), not pushing until started: its id and where each partition starts. */
  openSubscription(topic: string, starts: PartitionStart[], defaultFrom: WireFrom, creditBytes: number | null): { subscription: number; partitions: SubscribedPartition[] };
  /** Starts pushing, once the client has been told the subscription's id (a push it cannot place would be lost). */
  startSubscription(subscription: number): void;
  closeSubscription(subscription: number): void;
  send(message: ServerMessage): void;
  /** The door could not keep the member in the group: tell the client, forget the membership. */
  memberFailed(member: GroupMember, error: unknown): void;
}

/** The broker's assignor for each name a WebSocket member may offer (kafkajs's RoundRobinAssigner is roundrobin). */
const BROKER_ASSIGNORS: Readonly<Record<WireAssignor, AssignorName>> = {
  range: 'range',
  roundrobin: 'roundrobin',
  RoundRobinAssigner: 'roundrobin',
};

/** Errors after which joining again is the answer (Kafka's consumer rejoins on each). */
const REJOIN_ERRORS: ReadonlySet<ErrorName> = new Set<ErrorName>(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

export class GroupMember {
  private memberId = '';
  private generationId = -1;
  private leaderId = '';
  private subscriptions: number[] = [];
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  /** stable: heartbeating; revoking: still heartbeating (the session must outlive the wait), errors ignored; joining: the coordinator holds the member's JoinGroup/SyncGroup, which keeps it alive. */
  private phase: 'stable' | 'revoking' | 'joining' = 'joining';
  /** Set while revoking: the client's commit (or the timeout) ends the wait. */
  private endRevoke: (() => void) | null = null;
  private readonly stopper = new AbortController();
  private readonly protocols: Array<{ name: string; metadata: Buffer }>;

  constructor(
    private readonly request: JoinGroupRequest,
    private readonly clientHost: string,
    private readonly broker: Broker,
    private readonly limits: WsLimits,
    private readonly host: MemberHost,
  ) {
    const metadata = encodeSubscription({ topics: request.topics });
    this.protocols = request.assignors.map((name) => ({ name, metadata }));
  }

  get groupId(): string {
    return this.request.group;
  }

  get instanceId(): string | null {
    return this.request.instanceId;
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /** The first join: the `joined` answer once the member is in a stable generation; send it, then startPushing(). */
  async start(): Promise<Extract<ServerMessage, { type: 'joined' }>> {
    const assignment = await this.join();
    this.phase = 'stable';
    const intervalMs = Math.min(GROUP_HEARTBEAT_INTERVAL_MS_MAX, Math.max(1, Math.floor(this.request.sessionTimeoutMs / GROUP_HEARTBEATS_PER_SESSION)));
    this.heartbeatTimer = setInterval(() => this.heartbeat(), intervalMs);
    this.heartbeatTimer.unref();
    return { type: 'joined', group: this.groupId, generation: this.generationId, member_id: this.memberId, leader: this.leaderId, assignment };
  }

  /** Commits with the member's current generation (refused by the coordinator once the group has moved on). */
  commit(offsets: readonly OffsetToCommit[]): Promise<PartitionOutcome[]> {
    return this.broker.groups.commitOffsets({ groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.request.instanceId, offsets });
  }

  /** The assignment's subscriptions push from now on. */
  startPushing(): void {
    for (const subscription of this.subscriptions) this.host.startSubscription(subscription);
  }

  /** A commit of this group was answered: a member revoking its partitions rejoins now. */
  commitAnswered(): void {
    this.endRevoke?.();
  }

  /**
   * Ends the membership: heartbeats stop, a parked JoinGroup/SyncGroup is
   * abandoned, subscriptions close. With `leave`, LeaveGroup too (a static
   * member whose socket closed stays, to come back within its session).
   */
  stop(leave: boolean): void {
    if (this.stopped) return;
    this.stopper.abort();
    this.endRevoke?.();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.revoke();
    if (!leave || this.memberId === '') return;
    try {
      this.broker.groups.leave(this.groupId, [{ memberId: this.memberId, groupInstanceId: this.request.instanceId }]);
    } catch (error) {
      if (!(error instanceof FerryError)) throw error; // the coordinator closed: nothing to leave
    }
  }

  // --- the rebalance protocol --------------------------------------------------------------

  /** JoinGroup then SyncGroup until a generation is stable, at most joinAttemptsMax times; the new assignment, subscribed. */
  private async join(): Promise<GroupAssignment[]> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < this.limits.joinAttemptsMax; attempt++) {
      if (this.stopped) break;
      try {
        const joined = await this.broker.groups.join({
          groupId: this.groupId,
          memberId: this.memberId,
          groupInstanceId: this.request.instanceId,
          clientId: WS_MEMBER_CLIENT_ID,
          clientHost: this.clientHost,
          sessionTimeoutMs: this.request.sessionTimeoutMs,
          rebalanceTimeoutMs: this.request.rebalanceTimeoutMs,
          protocolType: CONSUMER_PROTOCOL_TYPE,
          protocols: this.protocols,
          requireKnownMemberId: true,
          signal: this.stopper.signal,
        });
        this.memberId = joined.memberId;
        this.generationId = joined.generationId;
        this.leaderId = joined.leaderId;
        const synced = await this.broker.groups.sync({
          groupId: this.groupId,
          generationId: joined.generationId,
          memberId: joined.memberId,
          groupInstanceId: this.request.instanceId,
          protocolType: joined.protocolType,
          protocolName: joined.protocolName,
          assignments: this.assign(joined),
          signal: this.stopper.signal,
        });
        if (this.stopped) break;
        return this.subscribe(decodeAssignment(synced.assignment).assignedPartitions);
      } catch (error) {
        if (this.stopped || !this.mayRetry(error)) throw error;
        lastError = error;
      }
    }
    throw this.stopped ? new FerryError('UNKNOWN_MEMBER_ID', `the member left group ${this.groupId} before joining completed`) : lastError;
  }

  private mayRetry(error: unknown): boolean {
    if (error instanceof MemberIdRequiredError) {
      this.memberId = error.memberId;
      return true;
    }
    if (!(error instanceof FerryError) || !REJOIN_ERRORS.has(error.errorName)) return false;
    if (error.errorName === 'UNKNOWN_MEMBER_ID') this.memberId = ''; // as Kafka's consumer: forget the id, join as new
    return true;
  }

  /** The leader's SyncGroup assignments, from the broker's assignor; nothing from a follower. */
  private assign(joined: JoinResult): MemberAssignment[] {
    if (joined.leaderId !== joined.memberId || joined.skipAssignment) return [];
    const assignor = BROKER_ASSIGNORS[joined.protocolName as WireAssignor];
    // The group chose a protocol every member offers, and this member offers only names of BROKER_ASSIGNORS.
    if (assignor === undefined) throw new FerryError('INCONSISTENT_GROUP_PROTOCOL', `group ${this.groupId} chose protocol ${joined.protocolName}, which the door cannot assign with`);
    return assignConsumerGroup(joined.members, assignor, (topic) => this.partitionCount(topic));
  }

  private partitionCount(topic: string): number | undefined {
    try {
      return this.broker.describeTopic(topic).partitions.length;
    } catch (error) {
      if (error instanceof FerryError) return undefined; // gone: assignors skip topics they cannot see
      throw error;
    }
  }

  /**
   * One push subscription per assigned topic for the partitions this broker
   * leads, each from its committed offset when that is inside the log; the
   * partitions another broker leads go to the client as `elsewhere`, with
   * their committed offsets, to read at their leaders (coordinator.ts).
   */
  private subscribe(assigned: readonly TopicPartitions[]): GroupAssignment[] {
    const committed = this.broker.groups.fetchOffsets(
      this.groupId,
      assigned.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))),
    );
    const committedOffset = (topic: string, partition: number): number => Number(committed.find((entry) => entry.topic === topic && entry.partition === partition)?.offset ?? -1n);
    const assignment: GroupAssignment[] = [];
    for (const { topic, partitions } of assigned) {
      if (partitions.length === 0) continue;
      const { here, elsewhere } = splitByLeader(this.broker, topic, partitions);
      const entry: GroupAssignment = { topic, subscription: null, partitions: [] };
      if (here.length > 0) {
        const described = this.broker.describeTopic(topic).partitions;
        const starts = here.map((partition): PartitionStart => {
          const offset = committedOffset(topic, partition);
          const log = described[partition];
          const inLog = log !== undefined && offset >= log.logStartOffset && offset <= log.logEndOffset;
          return { partition, from: inLog ? { offset } : null };
        });
        const opened = this.host.openSubscription(topic, starts, this.request.from, this.request.creditBytes);
        this.subscriptions.push(opened.subscription);
        entry.subscription = opened.subscription;
        entry.partitions = opened.partitions;
      }
      if (elsewhere.length > 0) entry.elsewhere = elsewhere.map(({ partition, leader }) => partitionElsewhere(partition, committedOffset(topic, partition), leader));
      assignment.push(entry);
    }
    return assignment;
  }

  private revoke(): void {
    for (const subscription of this.subscriptions) this.host.closeSubscription(subscription);
    this.subscriptions = [];
  }

  // --- heartbeats --------------------------------------------------------------------------

  private heartbeat(): void {
    if (this.phase === 'joining' || this.stopped) return;
    try {
      this.broker.groups.heartbeat({ groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.request.instanceId });
    } catch (error) {
      // While revoking, REBALANCE_IN_PROGRESS is expected: the heartbeat only keeps the session alive until the door rejoins.
      if (this.phase === 'stable') void this.rejoin(error);
    }
  }

  /** A heartbeat failed: rejoin when Kafka's consumer would, else the membership is over. */
  private async rejoin(cause: unknown): Promise<void> {
    if (!(cause instanceof FerryError) || !REJOIN_ERRORS.has(cause.errorName)) {
      this.host.memberFailed(this, cause);
      return;
    }
    if (cause.errorName === 'UNKNOWN_MEMBER_ID') this.memberId = '';
    this.phase = 'revoking';
    this.revoke();
    this.host.send({ type: 'rebalancing', group: this.groupId, generation: this.generationId });
    await this.revokeWindow();
    this.phase = 'joining';
    try {
      const assignment = await this.join();
      this.host.send({ type: 'rebalance', group: this.groupId, generation: this.generationId, member_id: this.memberId, leader: this.leaderId, assignment });
      this.startPushing();
    } catch (error) {
      if (!this.stopped) this.host.memberFailed(this, error);
    } finally {
      this.phase = 'stable';
    }
  }

  /** Resolves on the client's next commit of the group, on stop, or after revokeTimeoutMs (capped at half the rebalance timeout, so the member still rejoins in time). */
  private revokeWindow(): Promise<void> {
    const waitMs = Math.min(this.request.revokeTimeoutMs, Math.floor(this.request.rebalanceTimeoutMs / 2));
    if (waitMs <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endRevoke?.(), waitMs);
      this.endRevoke = () => {
        clearTimeout(timer);
        this.endRevoke = null;
        resolve();
      };
    });
  }
}
