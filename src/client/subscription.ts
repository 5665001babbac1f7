/**
 * A subscription as the caller sees it: an async iterator of records that
 * survives reconnects. It keeps, per partition, the position after the last
 * push received, so the client can resubscribe from exactly there (no gap,
 * no duplicate). Its pushes are queued, iterated and given back as credit by
 * a PushQueue and one CreditWindow (push-queue.ts): a slow caller holds at
 * most a window of records in memory and the broker never reads ahead of it.
 *
 * With a PushSink the pushes go to the sink's queue instead of its own: a
 * group membership reads a partition led by another broker this way
 * (group-membership.ts), and gets the following of leaders (moves, resumes
 * from positions) for free. The sink's queue gives the credit back to this
 * subscription's window.
 */

import type { RecordsFrameHeader, RecordsMessage, SubscribedPartition, SubscribeRequest, WireFrom } from '../protocol/ws/protocol.js';
import { FerryClientError } from './errors.js';
import { CreditWindow, DONE, PushQueue, type CreditLink } from './push-queue.js';
import type { ConsumedRecord } from './record.js';

export type From = 'earliest' | 'latest' | { offset: number } | { timestamp: number } | Date;

export interface SubscribeOptions {
  /** Default: every partition of the topic when subscribing. */
  partitions?: number[];
  /** Where a partition starts the first time (default 'latest'); a reconnect resumes where the last push left off. */
  from?: From;
  /** The credit window, in stored batch bytes: how far the broker may push ahead of the iteration. */
  windowBytes?: number;
  /** Bound on one gzip batch's decompressed records (binary encoding). */
  decompressedBytesMax?: number;
}

export interface PartitionOffset {
  partition: number;
  offset: number;
}

/** Where a subscription's pushes go instead of its own queue, and who hears that it failed. */
export interface PushSink {
  receiveJson(window: CreditWindow, topic: string, message: RecordsMessage): void;
  receiveBinary(window: CreditWindow, topic: string, header: RecordsFrameHeader, batches: Uint8Array): void;
  /** The subscription of `window` failed for good (a leader change is followed, not failed). */
  failed(window: CreditWindow, error: Error): void;
}

/** What a subscription needs from its client. */
export interface SubscriptionLink extends CreditLink {
  /** Unsubscribes on the server (when attached) and forgets the subscription. */
  release(subscription: Subscription, serverId: number | null): void;
}

export class Subscription implements AsyncIterableIterator<ConsumedRecord, undefined> {
  /** Resolves with each partition's starting offset once the broker has accepted the subscription. */
  readonly ready: Promise<PartitionOffset[]>;
  private resolveReady!: (positions: PartitionOffset[]) => void;
  private rejectReady!: (error: Error) => void;

  private readonly positions = new Map<number, number>();
  private started = false;
  /** Its serverId is the broker's id of this subscription on the current socket. */
  private readonly credit: CreditWindow;
  private readonly queue: PushQueue;

  /** The client whose socket carries the subscription; it changes when the subscription follows a leader (leader-follower.ts). */
  private link: SubscriptionLink;

  constructor(
    link: SubscriptionLink,
    readonly topic: string,
    private readonly options: Readonly<SubscribeOptions>,
    windowBytes: number,
    decompressedBytesMax: number,
    private readonly sink: PushSink | null = null,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // the caller may never look at it
    this.link = link;
    // Credit goes through whichever link holds the subscription now.
    this.credit = new CreditWindow({ sendCredit: (serverId, bytes) => this.link.sendCredit(serverId, bytes) }, windowBytes, null);
    this.queue = new PushQueue(decompressedBytesMax, { undecodable: () => this.close() });
  }

  /** The credit window its pushes are charged to (a sink tells its subscriptions apart by it). */
  get creditWindow(): CreditWindow {
    return this.credit;
  }

  /** Each partition's next offset: where a resubscribe would start. */
  currentPositions(): PartitionOffset[] {
    return [...this.positions].map(([partition, offset]) => ({ partition, offset }));
  }

  /** The partitions asked for when subscribing (undefined: every partition). */
  requestedPartitions(): readonly number[] | undefined {
    return this.options.partitions;
  }

  /** Moves to another client's socket: detached until that one resubscribes it from its positions. */
  relink(link: SubscriptionLink): void {
    this.credit.serverId = null;
    this.link = link;
  }

  get active(): boolean {
    return this.queue.active;
  }

  // --- the client's side -------------------------------------------------------------------

  /** The subscribe request for a new connection: from the original spec the first time, from the positions after. */
  subscribeRequest(): Omit<SubscribeRequest, 'id'> {
    const credit = this.credit.renew();
    if (this.started) {
      const partitions = this.currentPositions().map(({ partition, offset }) => ({ partition, from: { offset } }));
      return { type: 'subscribe', topic: this.topic, partitions, credit };
    }
    const request: Omit<SubscribeRequest, 'id'> = { type: 'subscribe', topic: this.topic, from: wireFrom(this.options.from ?? 'latest'), credit };
    if (this.options.partitions) request.partitions = [...this.options.partitions];
    return request;
  }

  attached(serverId: number, partitions: readonly SubscribedPartition[]): void {
    this.credit.serverId = serverId;
    if (this.started) return;
    for (const { partition, offset } of partitions) this.positions.set(partition, offset);
    this.started = true;
    this.resolveReady(this.currentPositions());
  }

  /** The connection is gone; pushes already received stay to be iterated. */
  detached(): void {
    this.credit.serverId = null;
  }

  receiveJson(message: RecordsMessage): void {
    if (!this.active) return;
    if (this.sink) this.sink.receiveJson(this.credit, this.topic, message);
    else this.queue.receiveJson(this.credit, this.topic, message);
    this.positions.set(message.partition, message.next_offset);
  }

  receiveBinary(header: RecordsFrameHeader, batches: Uint8Array): void {
    if (!this.active) return;
    this.positions.set(header.partition, header.nextOffset);
    if (this.sink) this.sink.receiveBinary(this.credit, this.topic, header, batches);
    else this.queue.receiveBinary(this.credit, this.topic, header, batches);
  }

  /** The broker ended the subscription, or it could not be resumed: the iteration throws once what came is read. */
  fail(error: Error): void {
    if (!this.active) return;
    this.credit.serverId = null;
    this.rejectReady(error);
    this.queue.fail(error);
    this.sink?.failed(this.credit, error);
  }

  /** The client is closing: the iteration ends. */
  end(): void {
    this.finish();
    this.rejectReady(new FerryClientError('CLIENT_CLOSED', 'the client was closed', false));
  }

  // --- the caller's side -------------------------------------------------------------------

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Calls are served one after another, as for-await makes them. */
  next(): Promise<IteratorResult<ConsumedRecord, undefined>> {
    return this.queue.next();
  }

  async return(): Promise<IteratorReturnResult<undefined>> {
    this.close();
    return DONE;
  }

  /** Unsubscribes; a pending or later next() is done. */
  close(): void {
    if (this.queue.finished) return;
    const serverId = this.credit.serverId;
    this.finish();
    this.link.release(this, serverId);
  }

  private finish(): void {
    this.credit.serverId = null;
    this.queue.finish();
  }
}

function wireFrom(from: From): WireFrom {
  return from instanceof Date ? { timestamp: from.getTime() } : from;
}
