/**
 * A consumer group membership as the caller sees it (protocol.ts: join,
 * rebalancing, rebalance, commit, leave): an async iterator of the records
 * of the partitions the group assigns this member, across rebalances and
 * reconnects. The broker's door runs Kafka's join, sync and heartbeats; this
 * side keeps the credit windows of the door's subscriptions (one per
 * assigned topic; their pushes share one PushQueue, push-queue.ts) and the
 * consumed position of each partition, which commit() sends.
 *
 *   pushes of a subscription no longer assigned are dropped unread: their
 *   partitions belong to another member now, which starts them from the
 *   group's committed offsets (Kafka's at-least-once: what was read and not
 *   committed is read again there).
 *
 * On `rebalancing` the consumed positions are committed (commitOnRebalance,
 * default true) before the broker rejoins for this member, so the next
 * owner resumes where this one stopped. After a lost
 * connection the client joins again (the door left the group when the socket
 * closed) and resumes from the committed offsets.
 *
 * In a cluster (design: the client follows, rather than the door proxying;
 * src/protocol/ws/coordinator.ts says why) the membership lives on the
 * socket of the group's coordinator: a join refused with NOT_COORDINATOR
 * moves it there (relink; FerryClient and leader-follower.ts do the move),
 * and commits, `rebalancing` and `rebalance` travel on that socket.
 * Assigned partitions the coordinator does not lead come as `elsewhere`:
 * each is read by a Subscription at its leader (the client's socket per
 * leader, following failovers from its positions) whose pushes land in this
 * membership's queue (a PushSink), from the committed offset (else `from`).
 * Revocation closes those reads with the door's subscriptions, before the
 * rebalance commit, so eager revocation holds for every partition.
 */

import type { CommitResult, GroupAssignment, JoinRequest, RecordsFrameHeader, RecordsMessage, WireAssignor } from '../protocol/ws/protocol.js';
import { FerryClientError } from './errors.js';
import { CreditWindow, DONE, PushQueue, type CreditLink } from './push-queue.js';
import type { LeaderAddress } from './errors.js';
import type { ConsumedRecord } from './record.js';
import type { From, PushSink, Subscription } from './subscription.js';

export interface JoinOptions {
  /** Assignor names offered, in order of preference (default "range"); use kafkajs's "RoundRobinAssigner" to share a kafkajs group. */
  assignor?: WireAssignor | WireAssignor[];
  /** Where a partition without a committed offset starts (Kafka's auto.offset.reset). Default 'latest'. */
  from?: From;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  /** Kafka's group.instance.id: a reload that joins with the same id within the session timeout keeps its partitions. */
  instanceId?: string;
  /** The credit window of each assigned topic's subscription, in stored batch bytes. */
  windowBytes?: number;
  decompressedBytesMax?: number;
  /**
   * Commit the consumed positions when a rebalance starts, before the broker
   * rejoins for this member (it waits up to revokeTimeoutMs for it). Default true.
   */
  commitOnRebalance?: boolean;
  /** Default 5000 with commitOnRebalance (the broker caps it at half the rebalance timeout). */
  revokeTimeoutMs?: number;
  /** Called with each new assignment (the first one included). */
  onAssignment?: (assignment: AssignedPartitions[]) => void;
}

export interface AssignedPartitions {
  topic: string;
  partitions: number[];
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  /** The next offset to consume. */
  offset: number;
  metadata?: string;
}

/** What a membership needs from its client. */
export interface MembershipLink extends CreditLink {
  commit(group: string, offsets: OffsetToCommit[]): Promise<CommitResult[]>;
  /** Leaves on the broker (when joined) and forgets the membership. */
  leave(membership: GroupMembership): Promise<void>;
  /** Ties the door's subscription ids to this membership on the current socket (empty: none). */
  route(membership: GroupMembership, serverIds: readonly number[]): void;
  /** A subscription of one partition whose pushes go to `sink`, not yet sent anywhere. */
  elsewhereSubscription(topic: string, partition: number, from: From, sink: PushSink, windowBytes: number): Subscription;
  /** Sends it to the partition's leader (null: none now, looked up). */
  readAtLeader(subscription: Subscription, leader: LeaderAddress | null): void;
}

/** A partition read at its leader, and whether it started from the committed offset (else from `from`). */
interface ElsewhereRead {
  subscription: Subscription;
  fromCommitted: boolean;
}

/** One of the door's subscriptions of this generation. */
interface Stream {
  topic: string;
  credit: CreditWindow;
}

const REVOKE_TIMEOUT_MS_DEFAULT = 5_000;

export class GroupMembership implements AsyncIterableIterator<ConsumedRecord, undefined> {
  /** Resolves with the first assignment once the group is stable with this member in it. */
  readonly ready: Promise<AssignedPartitions[]>;
  private resolveReady!: (assignment: AssignedPartitions[]) => void;
  private rejectReady!: (error: Error) => void;

  generation = -1;
  memberId = '';
  private currentAssignment: AssignedPartitions[] = [];
  private readonly streams = new Map<number, Stream>();
  /** This generation's reads of partitions led elsewhere, by their credit windows (what the queue's pushes carry). */
  private readonly elsewhere = new Map<CreditWindow, ElsewhereRead>();
  /** Moves to another coordinator since the last assignment: the follower's backoff. */
  coordinatorMoves = 0;
  private link: MembershipLink;
  /** Pushes of the reads at other leaders, into this membership's queue while they are this generation's. */
  private readonly sink: PushSink = {
    receiveJson: (window, topic, message) => {
      if (this.active && this.elsewhere.has(window)) this.queue.receiveJson(window, topic, message);
    },
    receiveBinary: (window, topic, header, batches) => {
      if (this.active && this.elsewhere.has(window)) this.queue.receiveBinary(window, topic, header, batches);
    },
    failed: (window, error) => this.elsewhereFailed(window, error),
  };
  /** `${topic}\0${partition}` -> the offset after the last record handed out. */
  private readonly consumed = new Map<string, { topic: string; partition: number; offset: number }>();
  private readonly queue: PushQueue;

  constructor(
    link: MembershipLink,
    readonly group: string,
    readonly topics: readonly string[],
    private readonly options: Readonly<JoinOptions>,
    private readonly windowBytes: number,
    decompressedBytesMax: number,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // the caller may never look at it
    this.link = link;
    this.queue = new PushQueue(decompressedBytesMax, {
      handedOut: (record) => this.handedOut(record),
      // Revoked while decoding: those records are another member's now. The window itself must still be
      // current, not just its id: the broker numbers subscriptions from 1 again on a new socket.
      stillWanted: (window) => this.elsewhere.has(window) || (window.serverId !== null && this.streams.get(window.serverId)?.credit === window),
    });
  }

  /** The partitions assigned in the current generation (empty while joining). */
  get assignment(): AssignedPartitions[] {
    return this.currentAssignment.map(({ topic, partitions }) => ({ topic, partitions: [...partitions] }));
  }

  get active(): boolean {
    return this.queue.active;
  }

  // --- the client's side -------------------------------------------------------------------

  /** Moves to another client's socket (the coordinator's): detached until that one joins it. */
  relink(link: MembershipLink): void {
    this.link = link;
  }

  joinRequest(): Omit<JoinRequest, 'id'> {
    const request: Omit<JoinRequest, 'id'> = { type: 'join', group: this.group, topics: [...this.topics], credit: this.windowBytes };
    const { assignor, from, sessionTimeoutMs, rebalanceTimeoutMs, instanceId } = this.options;
    if (assignor !== undefined) request.assignor = assignor;
    if (from !== undefined) request.from = from instanceof Date ? { timestamp: from.getTime() } : from;
    if (sessionTimeoutMs !== undefined) request.session_timeout_ms = sessionTimeoutMs;
    if (rebalanceTimeoutMs !== undefined) request.rebalance_timeout_ms = rebalanceTimeoutMs;
    if (instanceId !== undefined) request.instance_id = instanceId;
    if (this.commitsOnRebalance) request.revoke_timeout_ms = this.options.revokeTimeoutMs ?? REVOKE_TIMEOUT_MS_DEFAULT;
    return request;
  }

  /** `joined` or `rebalance`: a new generation and its subscriptions. */
  assigned(generation: number, memberId: string, assignment: readonly GroupAssignment[]): void {
    if (!this.active) return;
    this.revoke();
    this.generation = generation;
    this.memberId = memberId;
    this.coordinatorMoves = 0;
    this.currentAssignment = assignment.map(({ topic, partitions, elsewhere }) => ({ topic, partitions: [...partitions.map((p) => p.partition), ...(elsewhere ?? []).map((p) => p.partition)].sort((a, b) => a - b) }));
    const assignedKeys = new Set(this.currentAssignment.flatMap(({ topic, partitions }) => partitions.map((partition) => positionKey(topic, partition))));
    for (const key of [...this.consumed.keys()]) if (!assignedKeys.has(key)) this.consumed.delete(key);
    // Credit goes through whichever socket holds the membership now.
    const creditLink = { sendCredit: (serverId: number, bytes: number) => this.link.sendCredit(serverId, bytes) };
    for (const { topic, subscription } of assignment) if (subscription !== null) this.streams.set(subscription, { topic, credit: new CreditWindow(creditLink, this.windowBytes, subscription) });
    this.link.route(this, [...this.streams.keys()]);
    for (const { topic, elsewhere } of assignment) for (const { partition, offset, leader } of elsewhere ?? []) this.readElsewhere(topic, partition, offset >= 0 ? { offset } : null, leader);
    this.options.onAssignment?.(this.assignment);
    this.resolveReady(this.assignment);
  }

  /** `rebalancing`: the door ended this generation's subscriptions; commit what was consumed (even nothing: the answer lets the door rejoin). */
  rebalancing(): void {
    if (!this.active) return;
    this.revoke();
    if (!this.commitsOnRebalance) return;
    // Best effort: a refusal means the next owner reads those records again.
    this.link.commit(this.group, [...this.consumed.values()].map((position) => ({ ...position }))).catch(() => undefined);
  }

  private get commitsOnRebalance(): boolean {
    return this.options.commitOnRebalance ?? true;
  }

  /** The socket is gone (so is the membership on the broker): drop what the door pushed; the client joins again on the next socket. */
  detached(): void {
    this.revoke();
  }

  receiveJson(serverId: number, message: RecordsMessage): void {
    const stream = this.streams.get(serverId);
    if (!stream || !this.active) return;
    this.queue.receiveJson(stream.credit, stream.topic, message);
  }

  receiveBinary(header: RecordsFrameHeader, batches: Uint8Array): void {
    const stream = this.streams.get(header.subscription);
    if (!stream || !this.active) return;
    this.queue.receiveBinary(stream.credit, stream.topic, header, batches);
  }

  /** The door dropped the membership, or joining failed: the iteration throws once what came is read. */
  fail(error: Error): void {
    if (!this.active) return;
    this.revoke();
    this.rejectReady(error);
    this.queue.fail(error);
  }

  /** The client is closing: the iteration ends. */
  end(): void {
    this.finish();
    this.rejectReady(new FerryClientError('CLIENT_CLOSED', 'the client was closed', false));
  }

  // --- the caller's side -------------------------------------------------------------------

  /**
   * Commits `offsets`, or else the position after the last record the
   * iteration handed out of each assigned partition. Rejects with the first
   * partition's error when any is refused.
   */
  async commit(offsets?: readonly OffsetToCommit[]): Promise<void> {
    const toCommit = offsets ? [...offsets] : [...this.consumed.values()].map((position) => ({ ...position }));
    if (toCommit.length === 0) return;
    const results = await this.link.commit(this.group, toCommit);
    const failed = results.find((result) => result.error_code !== 0);
    if (failed) throw new FerryClientError(failed.error_name, `commit of ${failed.topic}-${failed.partition} to group ${this.group} refused`, false, failed.error_code);
  }

  /** Leaves the group; the iteration ends. */
  async leave(): Promise<void> {
    if (this.queue.finished) return;
    this.finish();
    await this.link.leave(this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ConsumedRecord, undefined>> {
    return this.queue.next();
  }

  async return(): Promise<IteratorReturnResult<undefined>> {
    await this.leave();
    return DONE;
  }

  /** Reads `partition` at its leader from `committed`, else from the join's `from` (the door's rule for what it pushes itself). */
  private readElsewhere(topic: string, partition: number, committed: { offset: number } | null, leader: LeaderAddress | null): void {
    const subscription = this.link.elsewhereSubscription(topic, partition, committed ?? this.options.from ?? 'latest', this.sink, this.windowBytes);
    this.elsewhere.set(subscription.creditWindow, { subscription, fromCommitted: committed !== null });
    this.link.readAtLeader(subscription, leader);
  }

  /**
   * A read at another leader failed for good. A committed offset outside
   * the log (retention) starts over from `from`, as the door does for what
   * it pushes; anything else ends the membership loudly (it leaves, so the
   * group gives the partition to a member that can read it) rather than let
   * the partition stop in silence.
   */
  private elsewhereFailed(window: CreditWindow, error: Error): void {
    const read = this.elsewhere.get(window);
    if (!read || !this.active) return;
    this.elsewhere.delete(window);
    const partition = read.subscription.requestedPartitions()?.[0];
    if (read.fromCommitted && partition !== undefined && error instanceof FerryClientError && error.errorName === 'OFFSET_OUT_OF_RANGE') {
      this.readElsewhere(read.subscription.topic, partition, null, null);
      return;
    }
    this.fail(error);
    this.link.leave(this).catch(() => undefined);
  }

  private handedOut(record: ConsumedRecord): void {
    this.consumed.set(positionKey(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
  }

  /** This generation's subscriptions are over: unread pushes and the rest of the current one are dropped. */
  private revoke(): void {
    this.streams.clear();
    for (const { subscription } of this.elsewhere.values()) subscription.close();
    this.elsewhere.clear();
    this.queue.drop();
    this.currentAssignment = [];
    this.link.route(this, []);
  }

  private finish(): void {
    this.revoke();
    this.queue.finish();
  }
}

function positionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}
