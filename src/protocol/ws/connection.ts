/**
 * One WebSocket connection: reads its requests, runs them against the broker,
 * answers, and owns its subscriptions' push loops. Every send checks the
 * socket is still open (uWS forbids touching a closed one) and is corked.
 */

import type { Logger } from 'pino';
import type { WebSocket } from 'uWebSockets.js';
import type { Broker, TopicDescription } from '../../broker/broker.js';
import { FerryError } from '../../errors.js';
import { errorMessage, type ErrorContext } from './frames.js';
import { wireLimits, type WsLimits } from './limits.js';
import {
  PROTOCOL_VERSION,
  RECORDS_FRAME_HEADER_BYTES,
  writeRecordsFrameHeader,
  type Encoding,
  type RecordsFrameHeader,
  type RecordsMessage,
  type RequestId,
  type ServerMessage,
  type WireFrom,
} from './protocol.js';
import { PushSubscription, type PartitionPosition, type PushStats, type PushTarget } from './push.js';
import { InvalidRequest, parseRequest, type PartitionStart, type Request } from './requests.js';

/** uWS's per-socket user data. */
export interface SocketData {
  encoding: Encoding;
  connection: Connection | null;
}

export interface ConnectionStats {
  encoding: Encoding;
  bufferedBytes: number;
  inflightRequests: number;
  subscriptions: PushStats[];
}

const CLOSE_GOING_AWAY = 1001;

export class Connection implements PushTarget {
  private readonly subscriptions = new Map<number, PushSubscription>();
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
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.send({ type: 'hello', version: PROTOCOL_VERSION, encoding: this.encoding, limits: wireLimits(this.limits) });
  }

  // --- uWS events --------------------------------------------------------------------------

  /** `message` is only valid until this returns: it is decoded before anything awaits. */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (isBinary) {
      this.sendError(new InvalidRequest(undefined, 'binary frames from clients are reserved (produce batches, a later version); send requests as JSON text'), {});
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

  onDrain(): void {
    const waiters = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const resolve of waiters) resolve();
  }

  onClose(): void {
    this.open = false;
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
      this.send(withId({ type: 'produced', results }, request.id));
    } catch (error) {
      this.sendError(error, { id: request.id });
    } finally {
      this.inflightRequests--;
    }
  }

  private subscribe(request: Extract<Request, { type: 'subscribe' }>): void {
    if (this.subscriptions.size >= this.limits.subscriptionsPerSocketMax) {
      throw new InvalidRequest(request.id, `a socket holds at most ${this.limits.subscriptionsPerSocketMax} subscriptions`);
    }
    const topic = this.broker.describeTopic(request.topic);
    const starts = request.partitions ?? topic.partitions.map((p) => ({ partition: p.partition, from: null }));
    if (this.subscribedPartitions + starts.length > this.limits.subscribedPartitionsPerSocketMax) {
      throw new InvalidRequest(request.id, `a socket subscribes to at most ${this.limits.subscribedPartitionsPerSocketMax} partitions in all`);
    }
    const positions = starts.map((start) => this.startPosition(topic, start, request.from));
    const id = this.nextSubscriptionId++;
    const subscription = new PushSubscription(id, topic.name, positions, request.creditBytes ?? this.limits.creditBytesDefault, this.broker, this.limits, this);
    this.subscriptions.set(id, subscription);
    this.subscribedPartitions += subscription.partitionCount;
    // Answered before the loop's first push, which comes after at least one await.
    this.send(withId({ type: 'subscribed', subscription: id, partitions: positions.map((p) => ({ ...p })) }, request.id));
    void subscription.run().finally(() => this.forget(subscription));
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
    const subscription = this.subscriptions.get(subscriptionId);
    if (!subscription) throw new InvalidRequest(id, `no subscription ${subscriptionId} on this socket`);
    subscription.stop();
    this.forget(subscription);
    this.send(withId({ type: 'unsubscribed', subscription: subscriptionId }, id));
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

  private send(message: ServerMessage): void {
    if (!this.open) return;
    const text = JSON.stringify(message);
    this.ws.cork(() => this.ws.send(text, false));
  }

  private sendError(error: unknown, context: ErrorContext): void {
    if (!(error instanceof FerryError)) this.logger.error({ err: error, ...context }, 'WebSocket request failed unexpectedly');
    this.send(errorMessage(error, context));
  }
}

function withId<T extends ServerMessage>(message: T, id: RequestId | undefined): T {
  return id === undefined ? message : { ...message, id };
}
