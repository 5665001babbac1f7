/**
 * The peers comparison's figures, looked up by name (bench/peers/names.ts)
 * in a run's figures, for the ratio tables and the chart. A figure the run
 * did not measure (filtered out, or a rate of another profile) is null.
 */

import {
  achievedRateName,
  ALL_LATENCY_RATES,
  latencyName,
  SYSTEMS,
  throughputName,
  throughputRateName,
  type PeerSystem,
  type PhaseName,
} from '../peers/names.js';
import type { Figure } from '../storage.bench.js';

export type FigureLookup = (name: string) => number | null;

export function lookup(figures: readonly Figure[]): FigureLookup {
  const byName = new Map(figures.map((figure) => [figure.name, figure.value]));
  return (name) => byName.get(name) ?? null;
}

export interface Throughput {
  recordsPerSecond: number | null;
  megabytesPerSecond: number | null;
}

export function throughputOf(value: FigureLookup, phase: PhaseName, system: PeerSystem): Throughput {
  return { recordsPerSecond: value(throughputName(phase, system)), megabytesPerSecond: value(throughputRateName(phase, system)) };
}

export interface LatencyPoint {
  /** The open-loop rate asked for, records/s. */
  ratePerSecond: number;
  /** The rate delivered while recording, records/s. */
  achievedPerSecond: number;
  p99Ms: number;
}

/** Each system's measured rates, in rate order; systems without any are left out. */
export function latencyPoints(figures: readonly Figure[]): Map<PeerSystem, LatencyPoint[]> {
  const value = lookup(figures);
  const series = new Map<PeerSystem, LatencyPoint[]>();
  for (const system of SYSTEMS) {
    const points: LatencyPoint[] = [];
    for (const ratePerSecond of ALL_LATENCY_RATES) {
      const p99Ms = value(latencyName(system, ratePerSecond, 'p99'));
      const achievedPerSecond = value(achievedRateName(system, ratePerSecond));
      if (p99Ms !== null && achievedPerSecond !== null) points.push({ ratePerSecond, achievedPerSecond, p99Ms });
    }
    if (points.length > 0) series.set(system, points);
  }
  return series;
}
