/**
 * Pacing of a throttled replica fetch: a replica that a reassignment is
 * adding copies the leader's log at most `throttleBytesPerSecond` (Kafka's
 * follower.replication.throttled.rate, here per partition), so the move
 * does not take the bandwidth the live traffic needs. Pure arithmetic:
 *
 *   - one fetch asks for at most a window's worth at the rate
 *     (partitionMaxBytes), so a single answer cannot burst far past it
 *     (a leader still returns one whole batch larger than that, as Kafka
 *     does, so progress never stalls);
 *   - every N bytes appended move the partition's pacing clock on by
 *     N / rate seconds, and it fetches again only once that clock is not
 *     ahead of now. The clock never lags now by more than a window, so a
 *     replica that was idle may take one window at once but never more:
 *     over any span t it copies at most rate x (t + window) plus one
 *     fetch. A replica that has caught up and copies less than the rate is
 *     not held back at all, so it keeps up with the leader and can join
 *     the ISR (a fixed wait after every small fetch would leave it behind
 *     the high watermark forever while producers write).
 */

/** How much a throttled fetch may ask for at once, and how much an idle replica may take at once: this long at the rate. */
export const THROTTLE_WINDOW_MS = 250;

/** partitionMaxBytes of a fetch for a partition throttled to `throttleBytesPerSecond`, never above the unthrottled `partitionFetchBytes`. */
export function throttledFetchBytes(throttleBytesPerSecond: number, partitionFetchBytes: number): number {
  const windowBytes = Math.floor((throttleBytesPerSecond * THROTTLE_WINDOW_MS) / 1000);
  return Math.min(partitionFetchBytes, Math.max(1, windowBytes));
}

/**
 * The partition's pacing clock after `appendedBytes` were copied at `nowMs`
 * (`pacedUntilMs`: the clock before; 0 for a replica not yet paced). The
 * next fetch waits until the clock is at or behind now.
 */
export function pacedUntilMs(previousMs: number, nowMs: number, appendedBytes: number, throttleBytesPerSecond: number): number {
  const from = Math.max(previousMs, nowMs - THROTTLE_WINDOW_MS);
  return from + (Math.max(0, appendedBytes) * 1000) / throttleBytesPerSecond;
}
