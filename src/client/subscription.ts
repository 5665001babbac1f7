/**
 * A subscription as the caller sees it: an async iterator of records that
 * survives reconnects. It keeps, per partition, the position after the last
 * push received, so the client can resubscribe from exactly there (no gap,
 * no duplicate), and it runs the credit window (protocol.ts, flow control):
 *
 *   bufferedBytes      pushes received and not yet iterated past
 *   serverCreditBytes  credit the server still holds
 *   windowBytes        their sum is kept at or below this, plus one batch
 *
 * Credit goes back once the caller has iterated past a push, in grants of at
 * least half the window, so a slow caller holds at most a window of records
 * in memory and the broker never reads ahead of it.
 */

import type { RecordsFrameHeader, RecordsMessage, SubscribedPartition, SubscribeRequest, WireFrom, WireHeader } from '../protocol/ws/protocol.js';
import { decodeRecordBatches } from './batch-decoder.js';
import { FerryClientError } from './errors.js';
import { ConsumedRecord, fromWireValue, wireValueBytes, type ConsumedHeader } from './record.js';

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

/** What a subscription needs from its client. */
export interface SubscriptionLink {
  sendCredit(serverId: number, bytes: number): void;
  /** Unsubscribes on the server (when attached) and forgets the subscription. */
  release(subscription: Subscription, serverId: number | null): void;
}

interface PendingPush {
  partition: number;
  chargeBytes: number;
  /** JSON pushes arrive decoded; binary ones are decoded when the iteration reaches them. */
  records: ConsumedRecord[] | null;
  batches: Uint8Array | null;
  fetchOffset: number;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export class Subscription implements AsyncIterableIterator<ConsumedRecord, undefined> {
  /** Resolves with each partition's starting offset once the broker has accepted the subscription. */
  readonly ready: Promise<PartitionOffset[]>;
  private resolveReady!: (positions: PartitionOffset[]) => void;
  private rejectReady!: (error: Error) => void;

  private readonly positions = new Map<number, number>();
  private started = false;
  private serverId: number | null = null;
  private readonly pushes: PendingPush[] = [];
  private current: ConsumedRecord[] = [];
  private index = 0;
  private currentChargeBytes = 0;
  private bufferedBytes = 0;
  private serverCreditBytes = 0;
  private failure: Error | null = null;
  private done = false;
  private wakeUp: (() => void) | null = null;
  private pulling: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly link: SubscriptionLink,
    readonly topic: string,
    private readonly options: Readonly<SubscribeOptions>,
    private readonly windowBytes: number,
    private readonly decompressedBytesMax: number,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // the caller may never look at it
  }

  /** Each partition's next offset: where a resubscribe would start. */
  currentPositions(): PartitionOffset[] {
    return [...this.positions].map(([partition, offset]) => ({ partition, offset }));
  }

  get active(): boolean {
    return !this.done && this.failure === null;
  }

  // --- the client's side -------------------------------------------------------------------

  /** The subscribe request for a new connection: from the original spec the first time, from the positions after. */
  subscribeRequest(): Omit<SubscribeRequest, 'id'> {
    const credit = Math.max(0, this.windowBytes - this.bufferedBytes);
    this.serverCreditBytes = credit;
    if (this.started) {
      const partitions = this.currentPositions().map(({ partition, offset }) => ({ partition, from: { offset } }));
      return { type: 'subscribe', topic: this.topic, partitions, credit };
    }
    const request: Omit<SubscribeRequest, 'id'> = { type: 'subscribe', topic: this.topic, from: wireFrom(this.options.from ?? 'latest'), credit };
    if (this.options.partitions) request.partitions = [...this.options.partitions];
    return request;
  }

  attached(serverId: number, partitions: readonly SubscribedPartition[]): void {
    this.serverId = serverId;
    if (this.started) return;
    for (const { partition, offset } of partitions) this.positions.set(partition, offset);
    this.started = true;
    this.resolveReady(this.currentPositions());
  }

  /** The connection is gone; pushes already received stay to be iterated. */
  detached(): void {
    this.serverId = null;
  }

  receiveJson(message: RecordsMessage): void {
    if (!this.active) return;
    const records = message.records.map(
      (r) => new ConsumedRecord(this.topic, message.partition, r.offset, r.timestamp, fromWireValue(r.key), fromWireValue(r.value), r.headers.map(headerFromWire)),
    );
    this.positions.set(message.partition, message.next_offset);
    this.enqueue({ partition: message.partition, chargeBytes: message.bytes, records, batches: null, fetchOffset: 0 });
  }

  receiveBinary(header: RecordsFrameHeader, batches: Uint8Array): void {
    if (!this.active) return;
    this.positions.set(header.partition, header.nextOffset);
    this.enqueue({ partition: header.partition, chargeBytes: batches.length, records: null, batches, fetchOffset: header.fetchOffset });
  }

  /** The broker ended the subscription, or it could not be resumed: the iteration throws once what came is read. */
  fail(error: Error): void {
    if (!this.active) return;
    this.failure = error;
    this.serverId = null;
    this.rejectReady(error);
    this.wake();
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
    const result = this.pulling.then(() => this.pull());
    this.pulling = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorReturnResult<undefined>> {
    this.close();
    return DONE;
  }

  /** Unsubscribes; a pending or later next() is done. */
  close(): void {
    if (this.done) return;
    const serverId = this.serverId;
    this.finish();
    this.link.release(this, serverId);
  }

  private async pull(): Promise<IteratorResult<ConsumedRecord, undefined>> {
    for (;;) {
      if (this.done) return DONE;
      const record = this.current[this.index];
      if (record !== undefined) {
        this.index++;
        return { done: false, value: record };
      }
      this.finishPush();
      const push = this.pushes.shift();
      if (push) {
        await this.openPush(push);
      } else if (this.failure) {
        const failure = this.failure;
        this.finish();
        throw failure;
      } else {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
      }
    }
  }

  private async openPush(push: PendingPush): Promise<void> {
    this.currentChargeBytes = push.chargeBytes;
    this.index = 0;
    if (push.records) {
      this.current = push.records;
      return;
    }
    try {
      const decoded = await decodeRecordBatches(push.batches!, { fromOffset: push.fetchOffset, decompressedBytesMax: this.decompressedBytesMax });
      this.current = decoded.map((r) => new ConsumedRecord(this.topic, push.partition, r.offset, r.timestamp, r.key, r.value, r.headers));
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private enqueue(push: PendingPush): void {
    this.pushes.push(push);
    this.bufferedBytes += push.chargeBytes;
    this.serverCreditBytes -= push.chargeBytes;
    this.wake();
  }

  /** The iteration is past the current push: its bytes are credit again. */
  private finishPush(): void {
    const charge = this.currentChargeBytes;
    this.current = [];
    this.index = 0;
    this.currentChargeBytes = 0;
    if (charge === 0) return;
    this.bufferedBytes -= charge;
    if (this.serverId === null) return; // the next subscribe request carries the room
    const roomBytes = this.windowBytes - this.serverCreditBytes - this.bufferedBytes;
    if (roomBytes < this.windowBytes / 2) return;
    this.serverCreditBytes += roomBytes;
    this.link.sendCredit(this.serverId, roomBytes);
  }

  private finish(): void {
    this.done = true;
    this.serverId = null;
    this.pushes.length = 0;
    this.current = [];
    this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = null;
    wakeUp?.();
  }
}

function wireFrom(from: From): WireFrom {
  return from instanceof Date ? { timestamp: from.getTime() } : from;
}

function headerFromWire(header: WireHeader): ConsumedHeader {
  return { key: header.key, value: wireValueBytes(header.value) };
}
