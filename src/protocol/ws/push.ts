/**
 * One subscription's push loop: long-poll the broker for its partitions and
 * push what arrives, never reading past the credit the client granted and
 * never pushing while the socket's send buffer is over its soft mark.
 *
 * A round fetches every partition of the subscription at once (each fetch a
 * long-poll woken by appends, all aborted as soon as the first answers, or
 * on unsubscribe/close), each for an equal share of min(credit, pushBytesMax).
 * Then, partitions in rotating order for fairness, it pushes what fits the
 * credit; the first non-empty answer is pushed even when its one batch is
 * larger (Kafka's fetch rule, so a window smaller than a batch still moves).
 * An answer that does not fit is dropped unsent and read again next round:
 * the position moves only with what was pushed.
 *
 *   waiting-credit  credit <= 0: until the client grants more
 *   waiting-drain   uWS buffers more than the soft mark: until drain
 *   fetching        a round is in flight
 *   stopped         unsubscribed, failed, or the socket closed
 */

import { setMaxListeners } from 'node:events';
import type { Broker, FetchResult } from '../../broker/broker.js';
import { recordsAfter, recordsMessage } from './frames.js';
import type { WsLimits } from './limits.js';
import type { Encoding, RecordsFrameHeader, RecordsMessage } from './protocol.js';

export type PushState = 'waiting-credit' | 'waiting-drain' | 'fetching' | 'stopped';

/** Where a subscription pushes: its socket. */
export interface PushTarget {
  readonly encoding: Encoding;
  bufferedBytes(): number;
  /** Resolves on the socket's next drain, on close, or when `signal` aborts. */
  waitForDrain(signal: AbortSignal): Promise<void>;
  pushBinary(header: RecordsFrameHeader, batches: Buffer): void;
  pushJson(message: RecordsMessage): void;
  /** The subscription is over: tell the client, forget it. `partition` is null when the failure is not one partition's. */
  subscriptionFailed(subscription: number, partition: number | null, error: unknown): void;
}

export interface PartitionPosition {
  partition: number;
  /** The next offset to push. */
  offset: number;
}

export interface PushStats {
  subscription: number;
  topic: string;
  state: PushState;
  creditBytes: number;
  /** Stored bytes pushed (charged against credit) since the subscription began. */
  bytesPushed: number;
  positions: PartitionPosition[];
}

export class PushSubscription {
  private state: PushState = 'fetching';
  private creditBytes: number;
  private bytesPushed = 0;
  private rotation = 0;
  private wakeUp: (() => void) | null = null;
  private readonly stopper = new AbortController();

  constructor(
    readonly id: number,
    readonly topic: string,
    private readonly positions: PartitionPosition[],
    creditBytes: number,
    private readonly broker: Broker,
    private readonly limits: WsLimits,
    private readonly target: PushTarget,
  ) {
    this.creditBytes = Math.min(creditBytes, limits.creditBytesMax);
  }

  get partitionCount(): number {
    return this.positions.length;
  }

  grant(bytes: number): void {
    this.creditBytes = Math.min(this.creditBytes + bytes, this.limits.creditBytesMax);
    this.wake();
  }

  stop(): void {
    this.state = 'stopped';
    this.stopper.abort();
    this.wake();
  }

  stats(): PushStats {
    return { subscription: this.id, topic: this.topic, state: this.state, creditBytes: this.creditBytes, bytesPushed: this.bytesPushed, positions: this.positions.map((p) => ({ ...p })) };
  }

  /** Runs until stopped; never rejects (a failure ends the subscription through the target). */
  async run(): Promise<void> {
    try {
      while (!this.stopped) {
        if (this.creditBytes <= 0) {
          await this.sleep('waiting-credit');
        } else if (this.target.bufferedBytes() > this.limits.socketBufferedBytesSoftMax) {
          this.state = 'waiting-drain';
          await this.target.waitForDrain(this.stopper.signal);
        } else {
          this.state = 'fetching';
          await this.round();
        }
      }
    } catch (error) {
      if (!this.stopped) this.fail(null, error); // a bug, not bad input: the target logs it
    }
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async sleep(state: PushState): Promise<void> {
    this.state = state;
    await new Promise<void>((resolve) => (this.wakeUp = resolve));
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = null;
    wakeUp?.();
  }

  private async round(): Promise<void> {
    if (this.positions.length === 1) {
      await this.roundOfOne(this.positions[0]!);
      return;
    }
    const order = rotated(this.positions, this.rotation++);
    const shareBytes = Math.max(1, Math.floor(Math.min(this.creditBytes, this.limits.pushBytesMax) / order.length));
    const round = new AbortController();
    // One waiting fetch per partition listens on this signal: many partitions are many listeners, not a leak.
    setMaxListeners(0, round.signal);
    const abortRound = (): void => round.abort();
    this.stopper.signal.addEventListener('abort', abortRound, { once: true });
    const fetches = order.map((position) =>
      this.broker.fetch(this.topic, position.partition, position.offset, { maxBytes: shareBytes, minBytes: 1, maxWaitMs: this.limits.longPollWaitMs, signal: round.signal }),
    );
    await Promise.race(fetches.map((fetch) => fetch.then(ignore, ignore)));
    round.abort(ROUND_OVER); // the others answer now with what they have
    const results = await Promise.allSettled(fetches);
    this.stopper.signal.removeEventListener('abort', abortRound);
    if (!this.stopped) this.deliver(order, results);
  }

  /**
   * A round of a one-partition subscription (every subscriber of a fan-out):
   * its one fetch needs no round of its own to abort, so it listens on the
   * subscription's stop signal directly. A round's AbortController, its
   * listeners and the abort cost ~10 µs per push, which a fan-out pays per
   * subscriber per push.
   */
  private async roundOfOne(position: PartitionPosition): Promise<void> {
    const maxBytes = Math.max(1, Math.min(this.creditBytes, this.limits.pushBytesMax));
    let result: PromiseSettledResult<FetchResult>;
    try {
      result = { status: 'fulfilled', value: await this.broker.fetch(this.topic, position.partition, position.offset, { maxBytes, minBytes: 1, maxWaitMs: this.limits.longPollWaitMs, signal: this.stopper.signal }) };
    } catch (error) {
      result = { status: 'rejected', reason: error };
    }
    if (!this.stopped) this.deliver([position], [result]);
  }

  private deliver(order: readonly PartitionPosition[], results: ReadonlyArray<PromiseSettledResult<FetchResult>>): void {
    let pushedThisRound = false;
    for (let i = 0; i < order.length; i++) {
      const position = order[i]!;
      const result = results[i]!;
      if (result.status === 'rejected') {
        this.fail(position.partition, result.reason);
        return;
      }
      const fetched = result.value;
      if (fetched.bytes.length === 0) continue;
      if (pushedThisRound && fetched.bytes.length > this.creditBytes) continue; // read again next round
      try {
        if (this.push(position, fetched)) pushedThisRound = true;
      } catch (error) {
        this.fail(position.partition, error);
        return;
      }
    }
  }

  /** Pushes one partition's answer and moves its position; false when it held nothing to show. */
  private push(position: PartitionPosition, fetched: FetchResult): boolean {
    const header = { subscription: this.id, partition: position.partition, fetchOffset: position.offset, nextOffset: fetched.nextOffset, highWatermark: fetched.highWatermark };
    let charged = fetched.bytes.length;
    if (this.target.encoding === 'binary') {
      this.target.pushBinary(header, fetched.bytes);
    } else {
      const records = recordsAfter(fetched, position.offset);
      if (records.length > 0) this.target.pushJson(recordsMessage(this.id, position.partition, records, fetched));
      else charged = 0; // only control records, or records below the position: nothing shown, nothing charged
    }
    position.offset = fetched.nextOffset;
    this.creditBytes -= charged;
    this.bytesPushed += charged;
    return charged > 0;
  }

  private fail(partition: number | null, error: unknown): void {
    this.stop();
    this.target.subscriptionFailed(this.id, partition, error);
  }
}

function ignore(): void {}

/** Ends a round's waiting fetches; a reason given, abort() need not build a DOMException (with its stack) each time. */
const ROUND_OVER = new Error('push round over');

function rotated<T>(items: readonly T[], by: number): T[] {
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
