/**
 * Figures of a made-up peers run for the report tests: the names the peers
 * suite reports under (bench/peers/names.ts), with round values so ratios
 * are easy to check by hand.
 */

import { achievedRateName, latencyName, throughputName, throughputRateName, type PeerSystem } from '../../bench/peers/names.js';
import type { Figure } from '../../bench/storage.bench.js';

export const figure = (name: string, value: number | null, unit = 'x'): Figure => ({ name, value, unit, better: 'higher' });

/** records/s of produce and consume, MB/s taken as records/s / 1000 (about 1 KiB each). */
export function throughputFigures(system: PeerSystem, produce: number, consume: number): Figure[] {
  return [
    figure(throughputName('produce', system), produce, 'records/s'),
    figure(throughputRateName('produce', system), produce / 1000, 'MB/s'),
    figure(throughputName('consume', system), consume, 'records/s'),
    figure(throughputRateName('consume', system), consume / 1000, 'MB/s'),
  ];
}

/** One latency run: p99 in ms and the rate achieved. */
export function latencyFigures(system: PeerSystem, ratePerSecond: number, p99Ms: number, achievedPerSecond = ratePerSecond): Figure[] {
  return [
    figure(latencyName(system, ratePerSecond, 'p50'), p99Ms / 4, 'ms'),
    figure(latencyName(system, ratePerSecond, 'p99'), p99Ms, 'ms'),
    figure(achievedRateName(system, ratePerSecond), achievedPerSecond, 'records/s'),
  ];
}
