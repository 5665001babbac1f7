/**
 * The broker's pushes as an iteration of records: the mechanism Subscription
 * and GroupMembership share. Pushes are queued as they arrive (JSON ones
 * decoded by the broker, binary ones decoded here when the iteration reaches
 * them) and handed out record by record to next() calls served one after
 * another, as for-await makes them.
 *
 * Each push is charged to the credit window of the broker subscription that
 * sent it (protocol.ts, flow control):
 *
 *   bufferedBytes      pushes received and not yet iterated past
 *   serverCreditBytes  credit the server still holds
 *   windowBytes        their sum is kept at or below this, plus one batch
 *
 * Credit goes back once the iteration is past a push, in grants of at least
 * half the window, so a slow caller holds at most a window of records in
 * memory and the broker never reads ahead of it.
 */

import type { RecordsFrameHeader, RecordsMessage, WireHeader } from '../protocol/ws/protocol.js';
import { decodeRecordBatches } from './batch-decoder.js';
import { ConsumedRecord, fromWireValue, wireValueBytes, type ConsumedHeader } from './record.js';

export interface CreditLink {
  sendCredit(serverId: number, bytes: number): void;
}

/** The credit window of one subscription on the broker. */
export class CreditWindow {
  /** The broker's id of the subscription; null while there is none, and credit waits for the next subscribe request. */
  serverId: number | null;
  private bufferedBytes = 0;
  private serverCreditBytes: number;

  constructor(
    private readonly link: CreditLink,
    readonly windowBytes: number,
    serverId: number | null,
  ) {
    this.serverId = serverId;
    this.serverCreditBytes = windowBytes;
  }

  /** The credit of a new subscription on the broker: the room the pushes still buffered leave. */
  renew(): number {
    const creditBytes = Math.max(0, this.windowBytes - this.bufferedBytes);
    this.serverCreditBytes = creditBytes;
    return creditBytes;
  }

  received(bytes: number): void {
    this.bufferedBytes += bytes;
    this.serverCreditBytes -= bytes;
  }

  /** The iteration is past a push of `bytes`: they are credit again. */
  iterated(bytes: number): void {
    if (bytes === 0) return;
    this.bufferedBytes -= bytes;
    if (this.serverId === null) return; // the next subscribe request carries the room
    const roomBytes = this.windowBytes - this.serverCreditBytes - this.bufferedBytes;
    if (roomBytes < this.windowBytes / 2) return;
    this.serverCreditBytes += roomBytes;
    this.link.sendCredit(this.serverId, roomBytes);
  }
}

/** What the owner of a queue hears of the iteration. */
export interface PushQueueHooks {
  /** Each record as next() hands it out. */
  handedOut?(record: ConsumedRecord): void;
  /** A binary push could not be decoded; next() throws the error after this. */
  undecodable?(): void;
  /** Whether a push of `window`'s subscription, decoded at last, is still to be handed out (default: yes). */
  stillWanted?(window: CreditWindow): boolean;
}

interface PendingPush {
  window: CreditWindow;
  topic: string;
  partition: number;
  chargeBytes: number;
  /** JSON pushes arrive decoded; binary ones are decoded when the iteration reaches them. */
  records: ConsumedRecord[] | null;
  batches: Uint8Array | null;
  fetchOffset: number;
}

export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export class PushQueue {
  private readonly pushes: PendingPush[] = [];
  /** The push being iterated: its records, the next one's index, and where its bytes go back. */
  private current: ConsumedRecord[] = [];
  private index = 0;
  private currentWindow: CreditWindow | null = null;
  private currentChargeBytes = 0;
  private failure: Error | null = null;
  private done = false;
  private wakeUp: (() => void) | null = null;
  private pulling: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly decompressedBytesMax: number,
    private readonly hooks: PushQueueHooks = {},
  ) {}

  /** Neither finished nor failed: pushes are still taken. */
  get active(): boolean {
    return !this.done && this.failure === null;
  }

  get finished(): boolean {
    return this.done;
  }

  receiveJson(window: CreditWindow, topic: string, message: RecordsMessage): void {
    const records = message.records.map(
      (r) => new ConsumedRecord(topic, message.partition, r.offset, r.timestamp, fromWireValue(r.key), fromWireValue(r.value), r.headers.map(headerFromWire)),
    );
    this.enqueue({ window, topic, partition: message.partition, chargeBytes: message.bytes, records, batches: null, fetchOffset: 0 });
  }

  receiveBinary(window: CreditWindow, topic: string, header: RecordsFrameHeader, batches: Uint8Array): void {
    this.enqueue({ window, topic, partition: header.partition, chargeBytes: batches.length, records: null, batches, fetchOffset: header.fetchOffset });
  }

  /** next() throws `error` once what is queued is read. */
  fail(error: Error): void {
    this.failure = error;
    this.wake();
  }

  /** Forgets the pushes queued and the rest of the current one; their bytes are not credit again. */
  drop(): void {
    this.pushes.length = 0;
    this.current = [];
    this.index = 0;
    this.currentWindow = null;
    this.currentChargeBytes = 0;
  }

  /** A pending or later next() is done. */
  finish(): void {
    this.done = true;
    this.drop();
    this.wake();
  }

  /** Calls are served one after another. */
  next(): Promise<IteratorResult<ConsumedRecord, undefined>> {
    const result = this.pulling.then(() => this.pull());
    this.pulling = result.catch(() => undefined);
    return result;
  }

  private async pull(): Promise<IteratorResult<ConsumedRecord, undefined>> {
    for (;;) {
      if (this.done) return DONE;
      const record = this.current[this.index];
      if (record !== undefined) {
        this.index++;
        this.hooks.handedOut?.(record);
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
    this.currentWindow = push.window;
    this.currentChargeBytes = push.chargeBytes;
    this.index = 0;
    if (push.records) {
      this.current = push.records;
      return;
    }
    const decoded = await this.decode(push.batches!, push.fetchOffset);
    if (this.hooks.stillWanted?.(push.window) === false) return;
    this.current = decoded.map((r) => new ConsumedRecord(push.topic, push.partition, r.offset, r.timestamp, r.key, r.value, r.headers));
  }

  private async decode(batches: Uint8Array, fromOffset: number): ReturnType<typeof decodeRecordBatches> {
    try {
      return await decodeRecordBatches(batches, { fromOffset, decompressedBytesMax: this.decompressedBytesMax });
    } catch (error) {
      this.hooks.undecodable?.();
      throw error;
    }
  }

  private enqueue(push: PendingPush): void {
    this.pushes.push(push);
    push.window.received(push.chargeBytes);
    this.wake();
  }

  /** The iteration is past the current push: its bytes are credit again. */
  private finishPush(): void {
    const window = this.currentWindow;
    const chargeBytes = this.currentChargeBytes;
    this.current = [];
    this.index = 0;
    this.currentWindow = null;
    this.currentChargeBytes = 0;
    window?.iterated(chargeBytes);
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = null;
    wakeUp?.();
  }
}

function headerFromWire(header: WireHeader): ConsumedHeader {
  return { key: header.key, value: wireValueBytes(header.value) };
}
