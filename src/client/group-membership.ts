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
 */

import type { CommitResult, GroupAssignment, JoinRequest, RecordsFrameHeader, RecordsMessage, WireAssignor } from '../protocol/ws/protocol.js';
import { FerryClientError } from './errors.js';
import { CreditWindow, DONE, PushQueue, type CreditLink } from './push-queue.js';
import type { ConsumedRecord } from './record.js';
import type { From } from './subscription.js';

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
  /** `${topic}\0${partition}` -> the offset after the last record handed out. */
  private readonly consumed = new Map<string, { topic: string; partition: number; offset: number }>();
  private readonly queue: PushQueue;

  constructor(
    private readonly link: MembershipLink,
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
    this.queue = new PushQueue(decompressedBytesMax, {
      handedOut: (record) => this.handedOut(record),
      // Revoked while decoding: those records are another member's now. The window itself must still be
      // current, not just its id: the broker numbers subscriptions from 1 again on a new socket.
      stillWanted: (window) => window.serverId !== null && this.streams.get(window.serverId)?.credit === window,
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
    this.currentAssignment = assignment.map(({ topic, partitions }) => ({ topic, partitions: partitions.map((p) => p.partition) }));
    const assignedKeys = new Set(assignment.flatMap(({ topic, partitions }) => partitions.map((p) => positionKey(topic, p.partition))));
    for (const key of [...this.consumed.keys()]) if (!assignedKeys.has(key)) this.consumed.delete(key);
    for (const { topic, subscription } of assignment) this.streams.set(subscription, { topic, credit: new CreditWindow(this.link, this.windowBytes, subscription) });
    this.link.route(this, [...this.streams.keys()]);
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

  private handedOut(record: ConsumedRecord): void {
    this.consumed.set(positionKey(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
  }

  /** This generation's subscriptions are over: unread pushes and the rest of the current one are dropped. */
  private revoke(): void {
    this.streams.clear();
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
