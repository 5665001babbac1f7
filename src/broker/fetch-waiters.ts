/**
 * Long-poll for fetches: a fetch that found less than it wants waits here
 * until the next append to its partition (the log's append listener wakes it)
 * or until its deadline, whichever comes first. No polling timers: the only
 * timer is each waiter's own deadline.
 *
 * An append wakes its waiters in the event loop's next check phase
 * (setImmediate), not at once: every append of the same turn (a socket's
 * read of many produce requests, several producers' sockets polled
 * together) is then read by each waiter in one fetch. Waking at once made a
 * fan-out of N subscribers fetch and push N times per record, one record at
 * a time, ahead of the next produce request: with 1 record per produce, 50
 * WebSocket subscribers capped the broker at ~120 appends/s.
 */

import type { PartitionLog } from '../storage/partition-log.js';

type Wake = () => void;

export class FetchWaiters {
  private readonly waiting = new Map<PartitionLog, Set<Wake>>();
  private readonly unsubscribe = new Map<PartitionLog, () => void>();
  /** Logs appended to since the last wake-up, all woken by one setImmediate. */
  private readonly appended = new Set<PartitionLog>();
  private wakeScheduled = false;

  /** Resolves on the next append to `log`, after `timeoutMs`, or when `signal` aborts. */
  waitForAppend(log: PartitionLog, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waitForAnyAppend([log], timeoutMs, signal);
  }

  /**
   * Resolves on the next append to any of `logs`, after `timeoutMs`, or when
   * `signal` aborts. With no logs it still waits out the time: a fetch of
   * nothing (or only of partitions that failed) waits max_wait_ms as Kafka's
   * does, instead of coming straight back to spin.
   */
  waitForAnyAppend(logs: readonly PartitionLog[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || timeoutMs <= 0) {
        resolve();
        return;
      }
      const wake: Wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        for (const log of logs) this.forget(log, wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener('abort', wake, { once: true });
      for (const log of logs) this.remember(log, wake);
    });
  }

  private remember(log: PartitionLog, wake: Wake): void {
    let set = this.waiting.get(log);
    if (!set) {
      set = new Set();
      this.waiting.set(log, set);
      this.unsubscribe.set(log, log.onAppend(() => this.wakeSoon(log)));
    }
    set.add(wake);
  }

  private forget(log: PartitionLog, wake: Wake): void {
    const set = this.waiting.get(log);
    if (!set) return;
    set.delete(wake);
    if (set.size === 0) {
      this.waiting.delete(log);
      this.unsubscribe.get(log)?.();
      this.unsubscribe.delete(log);
    }
  }

  private wakeSoon(log: PartitionLog): void {
    this.appended.add(log);
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      const logs = [...this.appended];
      this.appended.clear();
      for (const appendedTo of logs) this.wakeAll(appendedTo);
    });
  }

  private wakeAll(log: PartitionLog): void {
    const set = this.waiting.get(log);
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Wakes the waiters of `log` as an append would: its high watermark moved (cluster mode). */
  wake(log: PartitionLog): void {
    if (this.waiting.has(log)) this.wakeSoon(log);
  }

  /** Wakes every waiter (the broker is closing, or a topic went away). */
  wakeEveryone(): void {
    for (const log of [...this.waiting.keys()]) this.wakeAll(log);
  }

  get waiterCount(): number {
    let total = 0;
    for (const set of this.waiting.values()) total += set.size;
    return total;
  }
}
