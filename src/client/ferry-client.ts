/**
 * FerryClient: the WebSocket door's client (protocol in
 * src/protocol/ws/protocol.ts), the same code in Node and in browsers. No
 * Node built-ins: the WebSocket comes from the runtime (browsers, Node 22)
 * or from the caller (`ws` on Node 20).
 *
 * One socket at a time, a Session each. When a socket drops the client
 * reconnects with capped exponential backoff, resubscribes every live
 * subscription from its positions and joins every group again (the broker
 * left them when the socket closed; they resume from committed offsets). Produce requests that were sent and not
 * answered when the socket dropped fail with a retriable NETWORK_EXCEPTION
 * (the broker may or may not have appended them: the caller decides whether
 * to send again); requests not yet sent wait for the next socket.
 *
 * Produce goes as JSON or, with produceEncoding binary (the default on a
 * binary connection), as binary produce frames: record batches built here
 * (batch-encoder.ts, CRC32C in JS) that the broker appends as sent. Calls of
 * one event-loop turn are merged into one request (produce-coalescer.ts).
 *
 * In a Ferry cluster the client follows partition leaders (followLeaders,
 * on by default; leader-follower.ts): a produce or subscription that the
 * broker refuses because another broker leads the partition, or that a
 * failover interrupts, goes to the leader over a second socket, opened once
 * and reused. Against one broker nothing changes: one socket, and no
 * metadata request unless an error calls for one.
 *
 * Group memberships follow too: a join refused with NOT_COORDINATOR moves
 * to the coordinator's socket (the error names it), and partitions the
 * group assigns that the coordinator does not lead are read at their
 * leaders by subscriptions feeding the membership (group-membership.ts).
 */

import {
  PARTITION_ANY,
  PRODUCE_REQUEST_ID_MAX,
  PROTOCOL_VERSION,
  produceTopicBytes,
  type BatchProducedMessage,
  type CommitRequest,
  type CommitResult,
  type CommittedMessage,
  type CommittedOffsetsMessage,
  type JoinedMessage,
  type LeaveRequest,
  type MetadataMessage,
  type MetadataRequest,
  type OffsetsRequest,
  type WireCommittedOffset,
  RECORDS_FRAME_HEADER_BYTES,
  readRecordsFrameHeader,
  type Encoding,
  type ErrorMessage,
  type ProducedMessage,
  type ProducedResult,
  type ProduceRequest,
  type PingRequest,
  type ServerMessage,
  type SubscribedMessage,
  type WireAcks,
  type WireLimits,
  type WireProduceRecord,
} from '../protocol/ws/protocol.js';
import { DECOMPRESSED_BYTES_MAX_DEFAULT } from './batch-decoder.js';
import { BATCH_BYTES_MAX_DEFAULT, encodeProduceFrame, setProduceFrameRequestId } from './batch-encoder.js';
import { FerryClientError, clientClosedError, corruptError, networkError, type LeaderAddress } from './errors.js';
import { LeaderFollower, isCoordinatorMove, isFollowable, type LeaderLink } from './leader-follower.js';
import { ProduceCoalescer, type ProduceTarget } from './produce-coalescer.js';
import { GroupMembership, type JoinOptions, type MembershipLink, type OffsetToCommit } from './group-membership.js';
import { toWireValue, type ProduceInput, type ValueInput } from './record.js';
import { Subscription, type SubscribeOptions, type SubscriptionLink } from './subscription.js';
import { globalWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket.js';

export interface FerryClientOptions {
  /** How records are pushed: json (decoded by the broker) or binary (stored batches, decoded here). Default json. */
  encoding?: Encoding;
  /**
   * How records are produced. binary: as record batches built here (CRC32C
   * included) in binary produce frames, which the broker appends as they are
   * (far less broker CPU per record); a produce of keyed records without a
   * partition, or of records naming different partitions, still goes as JSON,
   * so the broker's partitioner places them as Kafka's would. json: JSON
   * requests with base64 for bytes. Default: the `encoding`.
   */
  produceEncoding?: Encoding;
  /** Largest record batch a binary produce frame carries; more records make several batches in one frame. */
  batchBytesMax?: number;
  /** Default: the runtime's global WebSocket. On Node 20, pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect after a lost connection (not after a failed first one). Default true. */
  reconnect?: boolean;
  reconnectDelayMinMs?: number;
  reconnectDelayMaxMs?: number;
  /** Requests waiting for a socket or for room under the broker's in-flight limit. */
  queuedRequestsMax?: number;
  /** Default credit window of a subscription. */
  windowBytes?: number;
  /**
   * In a cluster, send produces and subscriptions to their partition's
   * leader when the broker says it is another (leader-follower.ts). Default true.
   */
  followLeaders?: boolean;
  /**
   * Other brokers of the cluster (ws://host:port), as Kafka's
   * bootstrap.servers: where the client asks who leads now when its own
   * broker is unreachable. Without them (and without a socket to some other
   * leader) a client whose broker died waits for it to come back.
   */
  bootstrap?: readonly string[];
  /** This socket's own state changes (not those of the sockets opened to leaders). */
  onConnectionChange?: (change: ConnectionChange) => void;
  /** Errors about no request or subscription in particular (a frame the broker could not read). */
  onError?: (error: FerryClientError) => void;
}

export type ConnectionChange = { state: 'open' } | { state: 'reconnecting'; attempt: number; delayMs: number; reason: string } | { state: 'closed' };

export interface ProduceOptions {
  /** Default 'all' (on one broker, the leader's write). */
  acks?: WireAcks;
}

export const CLIENT_DEFAULTS = Object.freeze({
  encoding: 'json' as Encoding,
  batchBytesMax: BATCH_BYTES_MAX_DEFAULT,
  reconnect: true,
  reconnectDelayMinMs: 100,
  reconnectDelayMaxMs: 5_000,
  queuedRequestsMax: 10_000,
  windowBytes: 1024 * 1024,
});

/** How long close() waits for the socket's closing handshake before returning anyway. */
const CLOSE_WAIT_MS = 2_000;
const CLOSE_NORMAL = 1000;
/** A UTF-16 code unit is at most 3 bytes of UTF-8. */
const UTF8_BYTES_PER_UNIT_MAX = 3;
const utf8 = new TextEncoder();
/** Topic names kept encoded; past this many the cache starts over (a client producing to ever new topics). */
const TOPIC_BYTES_CACHED_MAX = 1024;

interface PendingRequest {
  resolve(message: ServerMessage): void;
  reject(error: Error): void;
  /** Counts against the broker's in-flight limit (produce, ping); subscribe and unsubscribe do not. */
  counted: boolean;
}

/** A binary produce frame awaiting its request id. */
interface BinaryRequest {
  frame: Uint8Array;
}

interface QueuedRequest extends PendingRequest {
  message: Omit<ProduceRequest, 'id'> | Omit<PingRequest, 'id'> | Omit<CommitRequest, 'id'> | Omit<OffsetsRequest, 'id'> | Omit<LeaveRequest, 'id'> | Omit<MetadataRequest, 'id'> | BinaryRequest;
}

/** One socket's state: requests awaiting answers and subscriptions by the broker's ids. */
class Session {
  limits: WireLimits | null = null;
  readonly pending = new Map<number, PendingRequest>();
  readonly subscriptions = new Map<number, Subscription>();
  /** The door's subscription ids of group memberships (one per assigned topic). */
  readonly groupStreams = new Map<number, GroupMembership>();
  inflight = 0;

  constructor(readonly socket: WebSocketLike) {}

  get ready(): boolean {
    return this.limits !== null;
  }
}

export class FerryClient implements LeaderLink {
  private readonly options: Required<Omit<FerryClientOptions, 'WebSocket' | 'onConnectionChange' | 'onError' | 'bootstrap'>>;
  /** This client's leader routing (the client the caller holds), null on the sockets it opens to leaders. */
  private readonly follower: LeaderFollower | null;
  /** Who moves a subscription that failed here for a leader change: the follower of the client the caller holds. */
  private mover: LeaderFollower | null = null;
  /** Topic names as produce frames carry them, encoded once. */
  private readonly topicBytes = new Map<string, Uint8Array>();
  private readonly coalescer: ProduceCoalescer;
  private readonly WebSocket: WebSocketConstructor;
  private readonly url: string;
  private session: Session | null = null;
  private readonly queue: QueuedRequest[] = [];
  private readonly subscriptions = new Set<Subscription>();
  private readonly memberships = new Set<GroupMembership>();
  private nextRequestId = 1;
  private closed = false;
  private everOpened = false;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly closeWaiters: Array<() => void> = [];
  private firstOpen: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private readonly link: SubscriptionLink = {
    sendCredit: (serverId, bytes) => this.sendCredit(serverId, bytes),
    release: (subscription, serverId) => this.release(subscription, serverId),
  };
  private readonly membershipLink: MembershipLink = {
    sendCredit: (serverId, bytes) => this.sendCredit(serverId, bytes),
    commit: (group, offsets) => this.commitOffsets(group, offsets),
    leave: (membership) => this.leaveGroup(membership),
    route: (membership, serverIds) => this.route(membership, serverIds),
    elsewhereSubscription: (topic, partition, from, sink, windowBytes) => new Subscription(this.link, topic, { partitions: [partition], from }, windowBytes, DECOMPRESSED_BYTES_MAX_DEFAULT, sink),
    readAtLeader: (subscription, leader) => this.readAtLeader(subscription, leader),
  };

  private constructor(
    url: string,
    private readonly hooks: Pick<FerryClientOptions, 'onConnectionChange' | 'onError'>,
    options: FerryClientOptions,
  ) {
    const WebSocketClass = options.WebSocket ?? globalWebSocket();
    if (!WebSocketClass) throw new Error('no WebSocket in this runtime: pass one as options.WebSocket (on Node 20, the `ws` package)');
    this.WebSocket = WebSocketClass;
    this.options = {
      encoding: options.encoding ?? CLIENT_DEFAULTS.encoding,
      produceEncoding: options.produceEncoding ?? options.encoding ?? CLIENT_DEFAULTS.encoding,
      batchBytesMax: options.batchBytesMax ?? CLIENT_DEFAULTS.batchBytesMax,
      reconnect: options.reconnect ?? CLIENT_DEFAULTS.reconnect,
      reconnectDelayMinMs: options.reconnectDelayMinMs ?? CLIENT_DEFAULTS.reconnectDelayMinMs,
      reconnectDelayMaxMs: options.reconnectDelayMaxMs ?? CLIENT_DEFAULTS.reconnectDelayMaxMs,
      queuedRequestsMax: options.queuedRequestsMax ?? CLIENT_DEFAULTS.queuedRequestsMax,
      windowBytes: options.windowBytes ?? CLIENT_DEFAULTS.windowBytes,
      followLeaders: options.followLeaders ?? true,
    };
    this.url = socketUrl(url, this.options.encoding);
    this.follower = this.options.followLeaders ? new LeaderFollower(this, (leaderUrl) => this.openPeer(leaderUrl, options), options.bootstrap ?? []) : null;
    this.mover = this.follower;
    this.coalescer = new ProduceCoalescer((target, records) => this.sendProduce(target, records), this.options.batchBytesMax);
  }

  /** Connects to `url` (ws://host:port or ws://host:port/ws); resolves once the broker has said hello. */
  static async connect(url: string, options: FerryClientOptions = {}): Promise<FerryClient> {
    const client = new FerryClient(url, { onConnectionChange: options.onConnectionChange, onError: options.onError }, options);
    await new Promise<void>((resolve, reject) => {
      client.firstOpen = { resolve, reject };
      client.openSocket();
    });
    return client;
  }

  get connected(): boolean {
    return this.session?.ready ?? false;
  }

  get encoding(): Encoding {
    return this.options.encoding;
  }

  /** Where this client's own socket connects (LeaderLink). */
  get socketUrl(): string {
    return this.url;
  }

  /** Closed for good (LeaderLink). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The live brokers and each partition's leader and leader epoch, of `topics` or of every topic. */
  async metadata(topics?: readonly string[]): Promise<MetadataMessage> {
    const message: Omit<MetadataRequest, 'id'> = { type: 'metadata' };
    if (topics) message.topics = [...topics];
    return (await this.request(message)) as MetadataMessage;
  }

  /** A socket to a leader for this client's follower: the same options, no reconnect (a lost one is looked up again), no following of its own. */
  private async openPeer(url: string, options: FerryClientOptions): Promise<LeaderLink> {
    const { onConnectionChange: _ownOnly, ...peerOptions } = options;
    const peer = await FerryClient.connect(url, { ...peerOptions, reconnect: false, followLeaders: false });
    peer.mover = this.follower;
    if (this.closed) await peer.close();
    return peer;
  }

  // --- produce -----------------------------------------------------------------------------

  produce(topic: string, record: ProduceInput, options?: ProduceOptions): Promise<ProducedResult>;
  produce(topic: string, records: readonly ProduceInput[], options?: ProduceOptions): Promise<ProducedResult[]>;
  /**
   * Calls made in one turn of the event loop to the same topic (and frame
   * partition, and acks) go as one request (produce-coalescer.ts): they
   * succeed or fail together, as records of one Kafka batch do.
   */
  async produce(topic: string, records: ProduceInput | readonly ProduceInput[], options: ProduceOptions = {}): Promise<ProducedResult | ProducedResult[]> {
    if (this.closed) throw clientClosedError();
    const many = isRecordList(records);
    const list = many ? records : [records];
    const results = this.follower ? await this.follower.produce(topic, commonPartition(list), list, options.acks) : await this.produceHere(topic, list, options.acks);
    return many ? results : results[0]!;
  }

  /** Produces over this client's own socket (LeaderLink): no following. */
  produceHere(topic: string, records: readonly ProduceInput[], acks: WireAcks | undefined): Promise<ProducedResult[]> {
    if (this.closed) return Promise.reject(unsent(clientClosedError()));
    const partition = this.options.produceEncoding === 'binary' ? framePartition(records) : null;
    return this.coalescer.add({ topic, partition, acks }, records);
  }

  private sendProduce(target: ProduceTarget, records: readonly ProduceInput[]): Promise<ProducedResult[]> {
    return target.partition === null ? this.produceJson(target.topic, records, target.acks) : this.produceBinary(target.topic, target.partition, records, target.acks);
  }

  private async produceJson(topic: string, records: readonly ProduceInput[], acks: WireAcks | undefined): Promise<ProducedResult[]> {
    const message: Omit<ProduceRequest, 'id'> = { type: 'produce', topic, records: records.map(wireRecord) };
    if (acks !== undefined) message.acks = acks;
    return ((await this.request(message)) as ProducedMessage).results;
  }

  /** One frame of batches built here; the broker answers once for the frame, and the per-record results are derived from it. */
  private async produceBinary(topic: string, partition: number, records: readonly ProduceInput[], acks: WireAcks | undefined): Promise<ProducedResult[]> {
    const { frame, timestamps } = encodeProduceFrame(this.topicBytesOf(topic), partition, wireAcks(acks), records, Date.now(), this.options.batchBytesMax);
    const answer = (await this.request({ frame })) as BatchProducedMessage;
    const results: ProducedResult[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      results[i] = {
        partition: answer.partition,
        offset: answer.base_offset < 0 ? -1 : answer.base_offset + i,
        timestamp: answer.log_append_time >= 0 ? answer.log_append_time : timestamps[i]!,
      };
    }
    return results;
  }

  private topicBytesOf(topic: string): Uint8Array {
    let bytes = this.topicBytes.get(topic);
    if (bytes === undefined) {
      bytes = produceTopicBytes(topic);
      if (this.topicBytes.size >= TOPIC_BYTES_CACHED_MAX) this.topicBytes.clear();
      this.topicBytes.set(topic, bytes);
    }
    return bytes;
  }

  /** A round trip to the broker. */
  async ping(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  // --- subscribe ---------------------------------------------------------------------------

  /** Records of `topic` as an async iterator; `ready` says where each partition starts. */
  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    if (this.closed) throw clientClosedError();
    const subscription = new Subscription(this.link, topic, options, options.windowBytes ?? this.options.windowBytes, options.decompressedBytesMax ?? DECOMPRESSED_BYTES_MAX_DEFAULT);
    this.subscriptions.add(subscription);
    if (this.session?.ready) this.attach(this.session, subscription);
    return subscription;
  }

  // --- consumer groups ---------------------------------------------------------------------

  /**
   * Joins consumer group `group` as a Kafka consumer of `topics` would (the
   * broker runs the rebalance protocol and heartbeats): records of the
   * partitions the group assigns, as an async iterator across rebalances.
   */
  join(group: string, topics: string | readonly string[], options: JoinOptions = {}): GroupMembership {
    if (this.closed) throw clientClosedError();
    const topicList = typeof topics === 'string' ? [topics] : [...topics];
    const membership = new GroupMembership(this.membershipLink, group, topicList, options, options.windowBytes ?? this.options.windowBytes, options.decompressedBytesMax ?? DECOMPRESSED_BYTES_MAX_DEFAULT);
    this.memberships.add(membership);
    if (this.session?.ready) this.attachMembership(this.session, membership);
    return membership;
  }

  /** Commits offsets of `group` (from a socket that is not a member: accepted only while the group has no members, as Kafka). */
  async commitOffsets(group: string, offsets: readonly OffsetToCommit[]): Promise<CommitResult[]> {
    const wireOffsets = offsets.map(({ topic, partition, offset, metadata }) => (metadata === undefined ? { topic, partition, offset } : { topic, partition, offset, metadata }));
    const answer = (await this.request({ type: 'commit', group, offsets: wireOffsets })) as CommittedMessage;
    return answer.results;
  }

  /** The committed offsets of `group`: every partition of `topics` (-1 where none), or every committed one. */
  async committedOffsets(group: string, topics?: readonly string[]): Promise<WireCommittedOffset[]> {
    try {
      return await this.committedOffsetsHere(group, topics);
    } catch (error) {
      // In a cluster another broker may coordinate the group: ask the one the refusal names.
      const coordinator = isCoordinatorMove(error) ? error.leader?.url : undefined;
      if (!this.follower || coordinator === undefined) throw error;
      return this.follower.committedOffsetsAt(coordinator, group, topics);
    }
  }

  async committedOffsetsHere(group: string, topics?: readonly string[]): Promise<WireCommittedOffset[]> {
    const message: Omit<OffsetsRequest, 'id'> = { type: 'offsets', group };
    if (topics) message.topics = [...topics];
    return ((await this.request(message)) as CommittedOffsetsMessage).offsets;
  }

  // --- close -------------------------------------------------------------------------------

  /** Ends every subscription, fails what is queued, closes the socket; no reconnect after. */
  async close(): Promise<void> {
    const peersClosed = this.follower?.close();
    if (this.closed && !this.session) {
      await peersClosed;
      return;
    }
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const queued of this.queue.splice(0)) queued.reject(clientClosedError());
    for (const subscription of this.subscriptions) subscription.end();
    this.subscriptions.clear();
    for (const membership of this.memberships) membership.end();
    this.memberships.clear();
    const session = this.session;
    if (!session) {
      await peersClosed;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      session.socket.close(CLOSE_NORMAL, 'client closed');
    });
    await peersClosed;
  }

  // --- the socket --------------------------------------------------------------------------

  private openSocket(): void {
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocket(this.url);
    } catch (error) {
      this.sessionLost(null, (error as Error).message);
      return;
    }
    socket.binaryType = 'arraybuffer';
    const session = new Session(socket);
    this.session = session;
    socket.onmessage = (event) => this.onMessage(session, event.data);
    socket.onclose = (event) => this.sessionLost(session, `closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
    socket.onerror = () => undefined; // a close event follows, with the reason
  }

  private onMessage(session: Session, data: unknown): void {
    if (session !== this.session) return;
    if (typeof data === 'string') {
      this.onText(session, data);
    } else if (data instanceof ArrayBuffer) {
      this.onBinary(session, new Uint8Array(data));
    } else if (ArrayBuffer.isView(data)) {
      this.onBinary(session, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }

  private onText(session: Session, text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      this.hooks.onError?.(corruptError(`the broker sent a frame that is not JSON: ${text.slice(0, 80)}`));
      return;
    }
    switch (message.type) {
      case 'hello':
        this.onHello(session, message.version, message.limits);
        return;
      case 'records':
        session.subscriptions.get(message.subscription)?.receiveJson(message);
        session.groupStreams.get(message.subscription)?.receiveJson(message.subscription, message);
        return;
      case 'rebalancing':
        this.membershipOf(message.group)?.rebalancing();
        return;
      case 'rebalance':
        this.membershipOf(message.group)?.assigned(message.generation, message.member_id, message.assignment);
        return;
      case 'error':
        this.onError(session, message);
        return;
      default:
        this.settle(session, message.id, (pending) => pending.resolve(message));
    }
  }

  private onBinary(session: Session, frame: Uint8Array): void {
    const header = readRecordsFrameHeader(frame);
    if (!header) {
      this.hooks.onError?.(corruptError(`the broker sent a binary frame that is not a version ${PROTOCOL_VERSION} records frame`));
      return;
    }
    session.subscriptions.get(header.subscription)?.receiveBinary(header, frame.subarray(RECORDS_FRAME_HEADER_BYTES));
    session.groupStreams.get(header.subscription)?.receiveBinary(header, frame.subarray(RECORDS_FRAME_HEADER_BYTES));
  }

  private onHello(session: Session, version: number, limits: WireLimits): void {
    if (version !== PROTOCOL_VERSION) {
      session.socket.close(CLOSE_NORMAL, `client speaks protocol version ${PROTOCOL_VERSION}`);
      return;
    }
    session.limits = limits;
    this.reconnectAttempt = 0;
    this.everOpened = true;
    for (const subscription of this.subscriptions) this.attach(session, subscription);
    for (const membership of this.memberships) this.attachMembership(session, membership);
    this.flush();
    this.hooks.onConnectionChange?.({ state: 'open' });
    this.firstOpen?.resolve();
    this.firstOpen = null;
  }

  private onError(session: Session, message: ErrorMessage): void {
    const error = new FerryClientError(message.error_name, message.message, message.retriable, message.error_code);
    error.leader = message.leader;
    if (message.id !== undefined && typeof message.id === 'number' && session.pending.has(message.id)) {
      this.settle(session, message.id, (pending) => pending.reject(error));
    } else if (message.subscription !== undefined) {
      const subscription = session.subscriptions.get(message.subscription);
      session.subscriptions.delete(message.subscription);
      if (subscription) this.subscriptionFailed(subscription, error);
    } else if (message.group !== undefined && this.membershipOf(message.group)) {
      this.membershipLost(this.membershipOf(message.group)!, error);
    } else {
      this.hooks.onError?.(error);
    }
  }

  /** The socket closed (or never opened): fail what awaited it, then reconnect unless closing. */
  private sessionLost(session: Session | null, reason: string): void {
    if (session !== this.session) return;
    this.session = null;
    const error = this.closed ? clientClosedError() : networkError(`connection to ${this.url} ${reason} before the broker answered; the request may or may not have taken effect`);
    if (session) {
      for (const pending of session.pending.values()) pending.reject(error);
      session.pending.clear();
    }
    for (const subscription of this.subscriptions) subscription.detached();
    for (const membership of this.memberships) membership.detached();
    if (this.closed) {
      for (const resolve of this.closeWaiters.splice(0)) resolve();
      this.hooks.onConnectionChange?.({ state: 'closed' });
      return;
    }
    if (!this.everOpened || !this.options.reconnect) {
      this.shutDown(networkError(this.everOpened ? `connection to ${this.url} lost: ${reason}` : `cannot connect to ${this.url}: ${reason}`));
      return;
    }
    if (this.follower?.canLookElsewhere()) this.handOver();
    this.scheduleReconnect(reason);
  }

  /**
   * This socket is down and the follower can find leaders elsewhere: the
   * subscriptions go to it, and so do the produces never sent (they would
   * wait for a broker that may be dead). The socket still reconnects, for
   * groups, and for whatever it leads when it is back.
   */
  private handOver(): void {
    const error = unsent(networkError(`connection to ${this.url} lost`));
    for (const subscription of [...this.subscriptions]) this.subscriptionFailed(subscription, error);
    for (const membership of [...this.memberships]) this.membershipLost(membership, error);
    const kept: QueuedRequest[] = [];
    for (const queued of this.queue.splice(0)) {
      if ('frame' in queued.message || queued.message.type === 'produce') queued.reject(error);
      else kept.push(queued);
    }
    this.queue.push(...kept);
  }

  private shutDown(error: FerryClientError): void {
    this.closed = true;
    // Never sent: a follower may send them elsewhere without repeating a write.
    for (const queued of this.queue.splice(0)) queued.reject(unsent(error));
    // A socket to a leader hands its subscriptions back to the follower, which finds the new leader; the caller's own socket fails them, as without following.
    const moved = this.follower === null;
    for (const subscription of [...this.subscriptions]) {
      if (moved) this.subscriptionFailed(subscription, unsent(error));
      else subscription.fail(error);
    }
    this.subscriptions.clear();
    // Likewise a membership on a socket to a coordinator joins again wherever the group's coordinator is now.
    for (const membership of [...this.memberships]) {
      if (moved) this.membershipLost(membership, unsent(error));
      else membership.fail(error);
    }
    this.memberships.clear();
    this.firstOpen?.reject(error);
    this.firstOpen = null;
    this.hooks.onConnectionChange?.({ state: 'closed' });
  }

  private scheduleReconnect(reason: string): void {
    const attempt = ++this.reconnectAttempt;
    const backoffMs = Math.min(this.options.reconnectDelayMaxMs, this.options.reconnectDelayMinMs * 2 ** (attempt - 1));
    const delayMs = Math.round(backoffMs * (0.5 + Math.random() / 2)); // jitter: clients of a restarted broker do not return in step
    this.hooks.onConnectionChange?.({ state: 'reconnecting', attempt, delayMs, reason });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed) this.openSocket();
    }, delayMs);
  }

  // --- requests ----------------------------------------------------------------------------

  private request(message: QueuedRequest['message']): Promise<ServerMessage> {
    if (this.closed) return Promise.reject(clientClosedError());
    if (this.queue.length >= this.options.queuedRequestsMax) {
      return Promise.reject(new FerryClientError('REQUEST_QUEUE_FULL', `${this.options.queuedRequestsMax} requests already wait for the broker`, true));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject, counted: true });
      this.flush();
    });
  }

  /** Sends queued requests while the broker's in-flight limit has room. */
  private flush(): void {
    const session = this.session;
    if (!session?.limits) return;
    while (this.queue.length > 0 && session.inflight < session.limits.inflight_requests_max) {
      const queued = this.queue.shift()!;
      this.send(session, queued.message, queued);
    }
  }

  private send(session: Session, message: object, pending: PendingRequest): void {
    const id = this.nextRequestId;
    // Binary produce frames carry a u32 id.
    this.nextRequestId = id >= PRODUCE_REQUEST_ID_MAX ? 1 : id + 1;
    if ('frame' in message) {
      this.sendFrame(session, id, (message as BinaryRequest).frame, pending);
      return;
    }
    const text = JSON.stringify({ ...message, id });
    const payloadBytesMax = session.limits?.payload_bytes_max ?? Infinity;
    if (text.length * UTF8_BYTES_PER_UNIT_MAX > payloadBytesMax && utf8.encode(text).length > payloadBytesMax) {
      // The broker would drop the whole connection for it (protocol.ts): refuse this request alone.
      pending.reject(new FerryClientError('MESSAGE_TOO_LARGE', `request of ${utf8.encode(text).length} bytes exceeds the broker's frame limit of ${payloadBytesMax} bytes`, false, 10));
      return;
    }
    session.pending.set(id, pending);
    if (pending.counted) session.inflight++;
    session.socket.send(text);
  }

  private sendFrame(session: Session, id: number, frame: Uint8Array, pending: PendingRequest): void {
    const payloadBytesMax = session.limits?.payload_bytes_max ?? Infinity;
    if (frame.length > payloadBytesMax) {
      pending.reject(new FerryClientError('MESSAGE_TOO_LARGE', `produce frame of ${frame.length} bytes exceeds the broker's frame limit of ${payloadBytesMax} bytes`, false, 10));
      return;
    }
    setProduceFrameRequestId(frame, id);
    session.pending.set(id, pending);
    if (pending.counted) session.inflight++;
    session.socket.send(frame);
  }

  private settle(session: Session, id: unknown, settle: (pending: PendingRequest) => void): void {
    if (typeof id !== 'number') return;
    const pending = session.pending.get(id);
    if (!pending) return;
    session.pending.delete(id);
    if (pending.counted) session.inflight--;
    settle(pending);
    if (pending.counted) this.flush();
  }

  // --- subscriptions -----------------------------------------------------------------------

  private attach(session: Session, subscription: Subscription): void {
    this.send(session, subscription.subscribeRequest(), {
      counted: false,
      resolve: (message) => {
        const subscribed = message as SubscribedMessage;
        if (!subscription.active) {
          this.send(session, { type: 'unsubscribe', subscription: subscribed.subscription }, ignoredAnswer);
          return;
        }
        session.subscriptions.set(subscribed.subscription, subscription);
        subscription.attached(subscribed.subscription, subscribed.partitions);
      },
      reject: (error) => {
        if (error instanceof FerryClientError && (error.errorName === 'NETWORK_EXCEPTION' || error.errorName === 'CLIENT_CLOSED')) return; // the next socket resubscribes
        this.subscriptionFailed(subscription, error);
      },
    });
  }

  /** Ends `subscription` here: it moves to its leader when a leader change explains the error (and someone follows), else it fails. */
  private subscriptionFailed(subscription: Subscription, error: Error): void {
    this.subscriptions.delete(subscription);
    if (this.mover && isFollowable(error) && subscription.active) {
      void this.mover.move(subscription, error);
      return;
    }
    subscription.fail(error);
  }

  /** Takes over a subscription from another of the follower's sockets (LeaderLink): resubscribes here from its positions. */
  adopt(subscription: Subscription): void {
    if (this.closed) {
      this.subscriptionFailed(subscription, unsent(clientClosedError()));
      return;
    }
    subscription.relink(this.link);
    this.subscriptions.add(subscription);
    if (this.session?.ready) this.attach(this.session, subscription);
  }

  private sendCredit(serverId: number, bytes: number): void {
    const session = this.session;
    if (session?.ready && (session.subscriptions.has(serverId) || session.groupStreams.has(serverId))) session.socket.send(JSON.stringify({ type: 'credit', subscription: serverId, bytes }));
  }

  // --- group memberships -------------------------------------------------------------------

  private attachMembership(session: Session, membership: GroupMembership): void {
    this.send(session, membership.joinRequest(), {
      counted: false,
      resolve: (message) => {
        const joined = message as JoinedMessage;
        if (!membership.active) {
          this.send(session, { type: 'leave', group: joined.group }, ignoredAnswer);
          return;
        }
        membership.assigned(joined.generation, joined.member_id, joined.assignment);
      },
      reject: (error) => {
        if (error instanceof FerryClientError && (error.errorName === 'NETWORK_EXCEPTION' || error.errorName === 'CLIENT_CLOSED')) return; // the next socket joins again
        this.membershipLost(membership, error);
      },
    });
  }

  /** `membership` cannot stay on this socket: it joins at its coordinator when the error says it is elsewhere (and someone follows), else it fails. */
  private membershipLost(membership: GroupMembership, error: Error): void {
    this.memberships.delete(membership);
    membership.detached();
    if (this.mover && membership.active && isCoordinatorMove(error)) {
      void this.mover.moveMembership(membership, error);
      return;
    }
    membership.fail(error);
  }

  /** Takes over a membership from another of the follower's sockets (LeaderLink): joins here. */
  adoptMembership(membership: GroupMembership): void {
    if (this.closed) {
      this.membershipLost(membership, unsent(clientClosedError()));
      return;
    }
    membership.relink(this.membershipLink);
    this.memberships.add(membership);
    if (this.session?.ready) this.attachMembership(this.session, membership);
  }

  /** A partition of a membership led by another broker: the subscription goes to its leader as one the broker refused would. */
  private readAtLeader(subscription: Subscription, leader: LeaderAddress | null): void {
    const partition = subscription.requestedPartitions()?.[0];
    const error = new FerryClientError('NOT_LEADER_OR_FOLLOWER', `${subscription.topic}-${partition} is assigned to this member and led by ${leader ? `broker ${leader.id}` : 'no broker now'}`, true, 6);
    if (leader) error.leader = leader;
    this.subscriptionFailed(subscription, error);
  }

  /** The live membership of `group` (a socket is a member of a group at most once). */
  private membershipOf(group: string): GroupMembership | undefined {
    for (const membership of this.memberships) if (membership.group === group) return membership;
    return undefined;
  }

  private route(membership: GroupMembership, serverIds: readonly number[]): void {
    const session = this.session;
    if (!session) return;
    for (const [serverId, routed] of [...session.groupStreams]) if (routed === membership) session.groupStreams.delete(serverId);
    for (const serverId of serverIds) session.groupStreams.set(serverId, membership);
  }

  private async leaveGroup(membership: GroupMembership): Promise<void> {
    this.memberships.delete(membership);
    if (!this.session?.ready) return; // no socket, no membership on the broker
    try {
      await this.request({ type: 'leave', group: membership.group });
    } catch (error) {
      // Already out: the broker dropped the member, or the socket went (which leaves too).
      if (error instanceof FerryClientError && ['UNKNOWN_MEMBER_ID', 'NETWORK_EXCEPTION', 'CLIENT_CLOSED'].includes(error.errorName)) return;
      throw error;
    }
  }

  private release(subscription: Subscription, serverId: number | null): void {
    this.subscriptions.delete(subscription);
    const session = this.session;
    if (serverId === null || !session?.ready || !session.subscriptions.has(serverId)) return;
    session.subscriptions.delete(serverId);
    this.send(session, { type: 'unsubscribe', subscription: serverId }, ignoredAnswer);
  }
}

const ignoredAnswer: PendingRequest = { counted: false, resolve: () => undefined, reject: () => undefined };

/** The partition every record names, else undefined: a route per partition where one is known. */
function commonPartition(records: readonly ProduceInput[]): number | undefined {
  const partition = records[0]?.partition;
  for (const record of records) if (record.partition !== partition) return undefined;
  return partition;
}

function unsent(error: FerryClientError): FerryClientError {
  const copy = new FerryClientError(error.errorName, error.message, error.retriable, error.errorCode);
  copy.unsent = true;
  return copy;
}

function isRecordList(records: ProduceInput | readonly ProduceInput[]): records is readonly ProduceInput[] {
  return Array.isArray(records);
}

/**
 * The partition field of a binary produce frame for `records`, or null when
 * they cannot share one frame: keyed records without a partition (the
 * broker's partitioner places those, as Kafka's would) or records naming
 * different partitions.
 */
function framePartition(records: readonly ProduceInput[]): number | null {
  const first = records[0];
  if (first === undefined) return null;
  const partition = first.partition;
  for (const record of records) {
    if (record.partition !== partition) return null;
    if (partition === undefined && record.key !== undefined && record.key !== null) return null;
  }
  return partition ?? PARTITION_ANY;
}

function wireAcks(acks: WireAcks | undefined): number {
  return acks === undefined || acks === 'all' ? -1 : acks;
}

function wireRecord(record: ProduceInput): WireProduceRecord {
  const wire: WireProduceRecord = { value: toWireValue(record.value) };
  if (record.key !== undefined && record.key !== null) wire.key = toWireValue(record.key);
  if (record.headers) {
    const headers = isHeaderList(record.headers) ? record.headers : Object.entries(record.headers).map(([key, value]) => ({ key, value }));
    wire.headers = headers.map(({ key, value }) => ({ key, value: toWireValue(value) }));
  }
  if (record.partition !== undefined) wire.partition = record.partition;
  if (record.timestamp !== undefined) wire.timestamp = record.timestamp instanceof Date ? record.timestamp.getTime() : record.timestamp;
  return wire;
}

function isHeaderList(headers: NonNullable<ProduceInput['headers']>): headers is ReadonlyArray<{ key: string; value: ValueInput }> {
  return Array.isArray(headers);
}

/** ws://host:port → ws://host:port/ws?encoding=...; a given path is kept. */
function socketUrl(url: string, encoding: Encoding): string {
  const parsed = new URL(url);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/ws';
  parsed.searchParams.set('encoding', encoding);
  return parsed.toString();
}
