/**
 * One WebSocket connection: reads its requests, runs them against the broker,
 * answers, and owns its subscriptions' push loops and its consumer group
 * memberships (group-member.ts). Every send checks the socket is still open
 * (uWS forbids touching a closed one) and is corked.
 */

import type { Logger } from 'pino';
import type { WebSocket } from 'uWebSockets.js';
import type { Broker, TopicDescription } from '../../broker/broker.js';
import type { OffsetToCommit, PartitionOutcome } from '../../broker/groups/index.js';
import { FerryError } from '../../errors.js';
import type { AppendResult } from '../../storage/partition-log.js';
import { readBinaryProduce, type BinaryProduceRequest } from './binary-produce.js';
import { errorMessage, producedText, type ErrorContext } from './frames.js';
import { coordinatorFor } from './coordinator.js';
import { GroupMember, type MemberHost } from './group-member.js';
import { wireLimits, type WsLimits } from './limits.js';
import { metadataMessage, type SelfAddress } from './metadata.js';
import type { ReceiveBuffers } from './receive-buffers.js';
import {
  PARTITION_ANY,
  PROTOCOL_VERSION,
  RECORDS_FRAME_HEADER_BYTES,
  writeRecordsFrameHeader,
  type BatchProducedMessage,
  type Encoding,
  type RecordsFrameHeader,
  type RecordsMessage,
  type RequestId,
  type ServerMessage,
  type SubscribedPartition,
  type WireFrom,
} from './protocol.js';
import { PushSubscription, type PartitionPosition, type PushStats, type PushTarget } from './push.js';
import { InvalidRequest, parseRequest, type JoinGroupRequest, type OffsetCommit, type PartitionStart, type Request } from './requests.js';

/** uWS's per-socket user data. */
export interface SocketData {
  encoding: Encoding;
  connection: Connection | null;
  /** How the client reached this broker (the upgrade's Host header). */
  self: SelfAddress;
}

export interface ConnectionStats {
  encoding: Encoding;
  bufferedBytes: number;
  inflightRequests: number;
  subscriptions: PushStats[];
  /** Ids of the groups this socket is a member of (or joining). */
  groups: string[];
}

const CLOSE_GOING_AWAY = 1001;

export class Connection implements PushTarget, MemberHost {
  private readonly subscriptions = new Map<number, PushSubscription>();
  private readonly groups = new Map<string, GroupMember>();
  private nextSubscriptionId = 1;
  private subscribedPartitions = 0;
  private inflightRequests = 0;
  private open = true;
  private readonly drainWaiters = new Set<() => void>();
  /** Reused for every binary push: uWS copies what it is given before send returns. */
  private readonly frameHeader = new Uint8Array(RECORDS_FRAME_HEADER_BYTES);

  constructor(
    private readonly ws: WebSocket<SocketData>,
    readonly encoding: Encoding,
    private readonly broker: Broker,
    private readonly limits: WsLimits,
    private readonly receiveBuffers: ReceiveBuffers,
    private readonly logger: Logger,
    private readonly self: SelfAddress,
  ) {}

  start(): void {
    this.send({ type: 'hello', version: PROTOCOL_VERSION, encoding: this.encoding, limits: wireLimits(this.limits) });
  }

  // --- uWS events --------------------------------------------------------------------------

  /** `message` is only valid until this returns: it is decoded before anything awaits. */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (isBinary) {
      this.onBinary(new Uint8Array(message));
      return;
    }
    let request: Request;
    try {
      request = parseRequest(Buffer.from(message).toString('utf8'));
    } catch (error) {
      this.sendError(error, { id: error instanceof InvalidRequest ? error.requestId : undefined });
      return;
    }
    this.dispatch(request);
  }

  /** A binary frame is a produce frame (protocol.ts); anything else is answered with an error and the socket carries on. */
  private onBinary(frame: Uint8Array): void {
    let request: BinaryProduceRequest;
    try {
      request = readBinaryProduce(frame, this.receiveBuffers);
    } catch (error) {
      this.sendError(error, { id: error instanceof InvalidRequest ? error.requestId : undefined });
      return;
    }
    void this.produceBinary(request);
  }

  onDrain(): void {
    const waiters = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const resolve of waiters) resolve();
  }

  onClose(): void {
    this.open = false;
    // Static members (instance_id) stay in their groups until their session expires, so a reloaded page gets its partitions back.
    for (const member of this.groups.values()) member.stop(member.instanceId === null);
    this.groups.clear();
    for (const subscription of this.subscriptions.values()) subscription.stop();
    this.subscriptions.clear();
    this.onDrain();
  }

  /** Closes the socket from the server's side (shutdown). */
  end(): void {
    if (this.open) this.ws.end(CLOSE_GOING_AWAY, 'server shutting down');
  }

  stats(): ConnectionStats {
    return {
      encoding: this.encoding,
      bufferedBytes: this.bufferedBytes(),
      inflightRequests: this.inflightRequests,
      subscriptions: [...this.subscriptions.values()].map((subscription) => subscription.stats()),
      groups: [...this.groups.keys()],
    };
  }

  // --- requests ----------------------------------------------------------------------------

  private dispatch(request: Request): void {
    switch (request.type) {
      case 'produce':
        void this.produce(request);
        return;
      case 'subscribe':
        this.guarded(request.id, () => this.subscribe(request));
        return;
      case 'credit':
        // A credit can cross the end of its subscription on the wire: one for a subscription gone is not an error.
        this.subscriptions.get(request.subscription)?.grant(request.bytes);
        return;
      case 'unsubscribe':
        this.guarded(request.id, () => this.unsubscribe(request.id, request.subscription));
        return;
      case 'ping':
        this.send(request.id === undefined ? { type: 'pong' } : { type: 'pong', id: request.id });
        return;
      case 'join':
        this.guarded(request.id, () => this.join(request));
        return;
      case 'commit':
        void this.commit(request.id, request.group, request.offsets);
        return;
      case 'offsets':
        try {
          this.fetchOffsets(request.id, request.group, request.topics);
        } catch (error) {
          // In a cluster the group may be coordinated elsewhere: the error names where.
          const coordinator = coordinatorFor(this.broker, request.group, error);
          this.sendError(error, { id: request.id, ...(coordinator ? { leader: coordinator } : {}) });
        }
        return;
      case 'leave':
        this.guarded(request.id, () => this.leave(request.id, request.group));
        return;
      case 'metadata':
        this.guarded(request.id, () => this.send(metadataMessage(this.broker, this.self, request.id, request.topics)));
        return;
    }
  }

  private guarded(id: RequestId | undefined, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.sendError(error, { id });
    }
  }

  private async produce(request: Extract<Request, { type: 'produce' }>): Promise<void> {
    if (this.inflightRequests >= this.limits.inflightRequestsPerSocketMax) {
      this.sendError(new InvalidRequest(request.id, `more than ${this.limits.inflightRequestsPerSocketMax} requests in flight on this socket; wait for answers`), { id: request.id });
      return;
    }
    this.inflightRequests++;
    try {
      const results = await this.broker.produce(request.topic, request.records, { acks: request.acks });
      this.sendText(producedText(request.id, results));
    } catch (error) {
      this.sendError(error, { id: request.id });
    } finally {
      this.inflightRequests--;
    }
  }

  /** Appends the frame's batches as they are; the append starts before anything awaits, so a socket's frames keep their order. */
  private async produceBinary(request: BinaryProduceRequest): Promise<void> {
    if (this.inflightRequests >= this.limits.inflightRequestsPerSocketMax) {
      request.release();
      this.sendError(new InvalidRequest(request.id, `more than ${this.limits.inflightRequestsPerSocketMax} requests in flight on this socket; wait for answers`), { id: request.id });
      return;
    }
    this.inflightRequests++;
    try {
      const appended = this.startBinaryAppend(request);
      if (request.acks === 0) {
        appended.catch(() => undefined); // as JSON produce with acks 0: answered before the write, a failure unreported
        this.send(batchProduced(request.id, request.partition, null));
        return;
      }
      const { partition, result } = await appended;
      this.send(batchProduced(request.id, partition, result));
    } catch (error) {
      this.sendError(error, { id: request.id });
    } finally {
      this.inflightRequests--;
    }
  }

  /** The append, its batches' buffer given back once it settles (not when an acks 0 answer goes, which is before). */
  private startBinaryAppend(request: BinaryProduceRequest): Promise<{ partition: number; result: AppendResult }> {
    let appended: Promise<{ partition: number; result: AppendResult }>;
    try {
      appended = this.appendBinary(request);
    } catch (error) {
      appended = Promise.reject(error);
    }
    appended.then(request.release, request.release);
    return appended;
  }

  /** Starts the append at once when the topic exists; else creates the topic first where the broker auto-creates topics (as JSON produce does). */
  private appendBinary(request: BinaryProduceRequest): Promise<{ partition: number; result: AppendResult }> {
    const partitions = this.partitionCountOf(request.topic);
    if (partitions === null) return this.appendToNewTopic(request);
    const partition = request.partition === PARTITION_ANY ? Math.floor(Math.random() * partitions) : request.partition;
    return this.broker.produceBatches(request.topic, partition, request.batches, { acks: request.acks }).then((result) => ({ partition, result }));
  }

  private async appendToNewTopic(request: BinaryProduceRequest): Promise<{ partition: number; result: AppendResult }> {
    if (!this.broker.autoCreateTopicsEnabled) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${request.topic} does not exist and auto.create.topics.enable is false`);
    await this.broker.createTopic(request.topic).catch((error: unknown) => {
      // Two producers racing to auto-create the same topic: the loser uses the winner's.
      if (!(error instanceof FerryError && error.errorName === 'TOPIC_ALREADY_EXISTS')) throw error;
    });
    return this.appendBinary(request);
  }

  /** The topic's partition count, null when it does not exist. */
  private partitionCountOf(topic: string): number | null {
    try {
      return this.broker.describeTopic(topic).partitions.length;
    } catch (error) {
      if (error instanceof FerryError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
      throw error;
    }
  }

  private subscribe(request: Extract<Request, { type: 'subscribe' }>): void {
    const starts = request.partitions ?? this.broker.describeTopic(request.topic).partitions.map((p) => ({ partition: p.partition, from: null }));
    const { subscription, partitions } = this.openSubscription(request.topic, starts, request.from, request.creditBytes);
    this.send(withId({ type: 'subscribed', subscription, partitions }, request.id));
    this.startSubscription(subscription);
  }

  /** A push subscription within the socket's limits, not pushing yet: the caller announces its id first, then starts it. */
  openSubscription(topicName: string, starts: PartitionStart[], defaultFrom: WireFrom, creditBytes: number | null): { subscription: number; partitions: SubscribedPartition[] } {
    if (this.subscriptions.size >= this.limits.subscriptionsPerSocketMax) {
      throw new InvalidRequest(undefined, `a socket holds at most ${this.limits.subscriptionsPerSocketMax} subscriptions`);
    }
    const topic = this.broker.describeTopic(topicName);
    if (this.subscribedPartitions + starts.length > this.limits.subscribedPartitionsPerSocketMax) {
      throw new InvalidRequest(undefined, `a socket subscribes to at most ${this.limits.subscribedPartitionsPerSocketMax} partitions in all`);
    }
    const positions = starts.map((start) => this.startPosition(topic, start, defaultFrom));
    const id = this.nextSubscriptionId++;
    const subscription = new PushSubscription(id, topic.name, positions, creditBytes ?? this.limits.creditBytesDefault, this.broker, this.limits, this);
    this.subscriptions.set(id, subscription);
    this.subscribedPartitions += subscription.partitionCount;
    return { subscription: id, partitions: positions.map((p) => ({ ...p })) };
  }

  /** Starts the push loop of an announced subscription (one closed meanwhile stays closed). */
  startSubscription(id: number): void {
    const subscription = this.subscriptions.get(id);
    if (subscription) void subscription.run().finally(() => this.forget(subscription));
  }

  closeSubscription(id: number): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) return;
    subscription.stop();
    this.forget(subscription);
  }

  private startPosition(topic: TopicDescription, start: PartitionStart, defaultFrom: WireFrom): PartitionPosition {
    const described = topic.partitions[start.partition];
    if (!described) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} has no partition ${start.partition} (it has ${topic.partitions.length})`);
    const from = start.from ?? defaultFrom;
    const partition = start.partition;
    if (from === 'earliest' || from === 'latest') return { partition, offset: this.broker.listOffset(topic.name, partition, from).offset };
    if ('timestamp' in from) {
      const found = this.broker.listOffset(topic.name, partition, { timestamp: from.timestamp }).offset;
      return { partition, offset: found >= 0 ? found : this.broker.listOffset(topic.name, partition, 'latest').offset };
    }
    const { logStartOffset, logEndOffset } = described;
    if (from.offset < logStartOffset || from.offset > logEndOffset) {
      throw new FerryError('OFFSET_OUT_OF_RANGE', `offset ${from.offset} is outside partition ${partition} of ${topic.name} [${logStartOffset}, ${logEndOffset}]`);
    }
    return { partition, offset: from.offset };
  }

  private unsubscribe(id: RequestId | undefined, subscriptionId: number): void {
    if (!this.subscriptions.has(subscriptionId)) throw new InvalidRequest(id, `no subscription ${subscriptionId} on this socket`);
    this.closeSubscription(subscriptionId);
    this.send(withId({ type: 'unsubscribed', subscription: subscriptionId }, id));
  }

  // --- consumer groups ---------------------------------------------------------------------

  /** Registers the membership at once (limits count joins in progress) and answers when the group is stable. */
  private join(request: JoinGroupRequest): void {
    if (this.groups.has(request.group)) throw new InvalidRequest(request.id, `this socket is already a member of group ${request.group}`);
    if (this.groups.size >= this.limits.groupsPerSocketMax) throw new InvalidRequest(request.id, `a socket is a member of at most ${this.limits.groupsPerSocketMax} groups`);
    for (const topic of request.topics) this.broker.describeTopic(topic); // UNKNOWN_TOPIC_OR_PARTITION before joining
    const member = new GroupMember(request, this.remoteAddress(), this.broker, this.limits, this);
    this.groups.set(request.group, member);
    member.start().then(
      (joined) => {
        this.send(withId(joined, request.id));
        member.startPushing(); // after the answer that names the subscriptions
      },
      (error: unknown) => {
        this.dropMember(member, true);
        this.sendError(error, { id: request.id, ...this.coordinatorContext(request.group, error) });
      },
    );
  }

  private async commit(id: RequestId | undefined, groupId: string, offsets: readonly OffsetCommit[]): Promise<void> {
    const toCommit: OffsetToCommit[] = offsets.map((entry) => ({ topic: entry.topic, partition: entry.partition, offset: BigInt(entry.offset), metadata: entry.metadata }));
    try {
      const member = this.groups.get(groupId);
      // Not a member here: a commit from outside group management (generation -1), accepted only while the group is empty.
      const outcomes = member ? await member.commit(toCommit) : await this.broker.groups.commitOffsets({ groupId, generationId: -1, memberId: '', groupInstanceId: null, offsets: toCommit });
      this.send(withId({ type: 'committed', group: groupId, results: outcomes.map(commitResult) }, id));
    } catch (error) {
      this.sendError(error, { id });
    } finally {
      this.groups.get(groupId)?.commitAnswered();
    }
  }

  private fetchOffsets(id: RequestId | undefined, groupId: string, topics: readonly string[] | null): void {
    const partitions = topics === null ? null : topics.flatMap((topic) => this.broker.describeTopic(topic).partitions.map(({ partition }) => ({ topic, partition })));
    const offsets = this.broker.groups.fetchOffsets(groupId, partitions).map((fetched) => ({ topic: fetched.topic, partition: fetched.partition, offset: Number(fetched.offset), metadata: fetched.metadata }));
    this.send(withId({ type: 'committed_offsets', group: groupId, offsets }, id));
  }

  private leave(id: RequestId | undefined, groupId: string): void {
    const member = this.groups.get(groupId);
    if (!member) throw new InvalidRequest(id, `this socket is not a member of group ${groupId}`, 'UNKNOWN_MEMBER_ID');
    this.dropMember(member, true);
    this.send(withId({ type: 'left', group: groupId }, id));
  }

  memberFailed(member: GroupMember, error: unknown): void {
    if (this.groups.get(member.groupId) !== member) return;
    this.dropMember(member, true);
    this.sendError(error, { group: member.groupId, ...this.coordinatorContext(member.groupId, error) });
  }

  /** NOT_COORDINATOR and its kin name the coordinator, so the client joins there (coordinator.ts). */
  private coordinatorContext(groupId: string, error: unknown): Pick<ErrorContext, 'leader'> {
    const leader = coordinatorFor(this.broker, groupId, error);
    return leader === undefined ? {} : { leader };
  }

  private dropMember(member: GroupMember, leave: boolean): void {
    member.stop(leave);
    if (this.groups.get(member.groupId) === member) this.groups.delete(member.groupId);
  }

  private remoteAddress(): string {
    return this.open ? Buffer.from(this.ws.getRemoteAddressAsText()).toString('utf8') : '';
  }

  private forget(subscription: PushSubscription): void {
    if (this.subscriptions.get(subscription.id) !== subscription) return;
    this.subscriptions.delete(subscription.id);
    this.subscribedPartitions -= subscription.partitionCount;
  }

  // --- PushTarget --------------------------------------------------------------------------

  bufferedBytes(): number {
    return this.open ? this.ws.getBufferedAmount() : 0;
  }

  waitForDrain(signal: AbortSignal): Promise<void> {
    if (!this.open || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.drainWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.drainWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Header and stored batches as two fragments of one message: the batches are never copied in JS. */
  pushBinary(header: RecordsFrameHeader, batches: Buffer): void {
    if (!this.open) return;
    writeRecordsFrameHeader(this.frameHeader, header);
    this.ws.cork(() => {
      this.ws.sendFirstFragment(this.frameHeader, true);
      this.ws.sendLastFragment(batches);
    });
  }

  pushJson(message: RecordsMessage): void {
    this.send(message);
  }

  subscriptionFailed(subscription: number, partition: number | null, error: unknown): void {
    const pushed = this.subscriptions.get(subscription);
    if (pushed) this.forget(pushed);
    this.sendError(error, partition === null ? { subscription } : { subscription, partition });
  }

  // --- sending -----------------------------------------------------------------------------

  send(message: ServerMessage): void {
    if (this.open) this.sendText(JSON.stringify(message));
  }

  private sendText(text: string): void {
    if (!this.open) return;
    this.ws.cork(() => this.ws.send(text, false));
  }

  private sendError(error: unknown, context: ErrorContext): void {
    if (!(error instanceof FerryError)) this.logger.error({ err: error, ...context }, 'WebSocket request failed unexpectedly');
    this.send(errorMessage(error, context));
  }
}

/** The one answer to a binary produce frame; `result` null with acks 0 (answered before the write). */
function batchProduced(id: number, partition: number, result: AppendResult | null): BatchProducedMessage {
  if (result === null) return { type: 'produced', id, partition, base_offset: -1, record_count: 0, log_append_time: -1 };
  return { type: 'produced', id, partition, base_offset: result.firstOffset, record_count: result.lastOffset - result.firstOffset + 1, log_append_time: result.logAppendTimeMs };
}

function commitResult(outcome: PartitionOutcome): { topic: string; partition: number; error_code: number; error_name: string } {
  return { topic: outcome.topic, partition: outcome.partition, error_code: outcome.error?.errorCode ?? 0, error_name: outcome.error?.errorName ?? 'NONE' };
}

function withId<T extends ServerMessage>(message: T, id: RequestId | undefined): T {
  return id === undefined ? message : { ...message, id };
}
