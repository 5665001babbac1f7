/** The pacing arithmetic of a throttled replica fetch (replica-throttle.ts). */

import { describe, expect, it } from 'vitest';
import { pacedUntilMs, THROTTLE_WINDOW_MS, throttledFetchBytes } from '../../src/cluster/replica-throttle.js';

describe('replica throttle', () => {
  it('asks for a window of bytes at the rate, never more than the unthrottled cap, never nothing', () => {
    expect(throttledFetchBytes(100_000, 1_048_576)).toBe((100_000 * THROTTLE_WINDOW_MS) / 1000);
    expect(throttledFetchBytes(100_000_000, 1_048_576)).toBe(1_048_576);
    expect(throttledFetchBytes(1, 1_048_576)).toBe(1);
  });

  it('moves the pacing clock on by N / rate seconds after N bytes', () => {
    expect(pacedUntilMs(10_000, 10_000, 50_000, 100_000)).toBe(10_500);
    expect(pacedUntilMs(10_500, 10_000, 50_000, 100_000)).toBe(11_000); // still ahead: the debt adds up
    expect(pacedUntilMs(10_000, 10_000, 0, 100_000)).toBe(10_000);
  });

  it('lets an idle replica take at most one window at once', () => {
    expect(pacedUntilMs(0, 60_000, 25_000, 100_000)).toBe(60_000 - THROTTLE_WINDOW_MS + 250);
    expect(pacedUntilMs(0, 60_000, 100, 100_000)).toBeLessThan(60_000); // small copies of a caught-up replica never wait
  });

  it('holds a long copy to the rate plus one window, whatever each answer held', () => {
    const rate = 200_000;
    const answers = [50_000, 4_096, 50_000, 16_384, 1_000, 50_000, 50_000, 50_000];
    let nowMs = 1_000_000;
    let clock = 0;
    const startMs = nowMs;
    let copied = 0;
    for (const bytes of answers) {
      nowMs = Math.max(nowMs, clock); // the fetcher waits for the clock
      copied += bytes;
      clock = pacedUntilMs(clock, nowMs, bytes, rate);
    }
    const spanMs = Math.max(nowMs, clock) - startMs;
    expect(copied).toBeLessThanOrEqual((rate * (spanMs + THROTTLE_WINDOW_MS)) / 1000);
  });
});
