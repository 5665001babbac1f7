/**
 * A reply the coordinator owes a member later: a JoinGroup answered when the
 * rebalance completes, a SyncGroup answered when the leader's assignment
 * arrives. Settling twice is a no-op, so the coordinator can answer without
 * asking whether the caller already gave up; a caller whose connection closed
 * (its AbortSignal) gets its promise rejected at once, while the member stays
 * counted as waiting, as Kafka does until its session expires.
 */

import { FerryError } from '../../errors.js';

export class Waiter<T> {
  readonly promise: Promise<T>;
  private settled = false;
  private resolvePromise!: (value: T) => void;
  private rejectPromise!: (error: Error) => void;
  private detach: (() => void) | null = null;

  constructor(signal?: AbortSignal) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
    if (!signal) return;
    const onAbort = (): void => this.reject(new FerryError('REQUEST_TIMED_OUT', 'the request was abandoned: its connection closed'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.detach = () => signal.removeEventListener('abort', onAbort);
  }

  resolve(value: T): void {
    if (this.finish()) this.resolvePromise(value);
  }

  reject(error: Error): void {
    if (this.finish()) this.rejectPromise(error);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.detach?.();
    this.detach = null;
    return true;
  }
}
