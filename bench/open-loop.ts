/**
 * End-to-end latency measurement shared by the load generators: an open-loop
 * sender and a recorder of due-time-to-delivery.
 *
 * Open loop: record i is due at start + i / rate, whether or not earlier ones
 * were answered, and its latency counts from that due time (stamped into the
 * value), so a sender falling behind shows up as latency instead of being
 * hidden (no coordinated omission). The first `warmup` records are delivered
 * but not recorded: JIT and socket warm-up.
 *
 * Due times are performance.now() of the sending process. When the sender
 * and the receiver are different processes (bench/load.ts), stamps are
 * epoch ms instead (epochNowMs, or performance.timeOrigin + a due time), and
 * the receiver keeps its own latencyHistogram, which the parent merges.
 */

import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';

/** The longest the sender sleeps between checks of the schedule. */
const TICK_MS_MAX = 1;

export interface LatencySummary {
  received: number;
  recorded: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Latencies in microseconds, 1 µs to 60 s, 3 significant digits: the one histogram every recorder keeps. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** A latency in ms as latencyHistogram records it: whole microseconds, at least 1. */
export function latencyMicros(latencyMs: number): number {
  return Math.max(1, Math.round(latencyMs * 1000));
}

/** p50, p99, p99.9 and max of a latencyHistogram, in ms. */
export function latencyPercentilesMs(histogram: hdr.Histogram): Pick<LatencySummary, 'p50Ms' | 'p99Ms' | 'p999Ms' | 'maxMs'> {
  const ms = (micros: number): number => micros / 1000;
  return {
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  };
}

/**
 * Now as epoch ms with performance.now()'s sub-ms precision: comparable
 * between processes (performance.now() alone counts from each process's
 * own start).
 */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A due time (performance.now(), ms) as the record value, padded to `valueBytes`. */
export function stampDueTime(dueAtMs: number, valueBytes: number): string {
  return dueAtMs.toFixed(4).padEnd(valueBytes, ' ');
}

export class LatencyRecorder {
  private readonly histogram = latencyHistogram();
  received = 0;
  recorded = 0;

  constructor(
    private readonly warmup: number,
    readonly total: number,
  ) {}

  /** Notes one delivered record whose value carries its stamped due time; true once all `total` arrived. */
  delivered(stampedValue: string, deliveredAtMs = performance.now()): boolean {
    const dueAtMs = Number.parseFloat(stampedValue);
    if (this.received++ >= this.warmup && Number.isFinite(dueAtMs)) {
      this.histogram.recordValue(latencyMicros(deliveredAtMs - dueAtMs));
      this.recorded++;
    }
    return this.received >= this.total;
  }

  summary(): LatencySummary {
    return { received: this.received, recorded: this.recorded, ...latencyPercentilesMs(this.histogram) };
  }
}

/** Calls `send(dueAtMs, index)` for `total` records at `ratePerSecond` on the open-loop schedule; resolves with the start time once all are sent. */
export function sendOpenLoop(ratePerSecond: number, total: number, send: (dueAtMs: number, index: number) => void): Promise<number> {
  const intervalMs = 1000 / ratePerSecond;
  const started = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && started + sent * intervalMs <= now) {
        send(started + sent * intervalMs, sent);
        sent++;
      }
      if (sent >= total) resolve(started);
      else setTimeout(tick, Math.max(0, Math.min(TICK_MS_MAX, started + sent * intervalMs - performance.now())));
    };
    tick();
  });
}
