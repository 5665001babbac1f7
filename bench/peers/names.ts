/**
 * The peers comparison's systems, rates and figure names, in one place: the
 * suite (bench/peers.bench.ts) reports under these names and the report
 * (bench/report/) finds its figures by them. Names are stable identifiers:
 * bench/run.ts compares runs by name.
 */

import type { PeerSystem } from '../peers-load.js';
import type { Profile } from '../storage.bench.js';

export type { PeerSystem };

export const SYSTEMS: readonly PeerSystem[] = ['ferry-kafka', 'ferry-ws', 'redis', 'nats'];
export const FERRY_SYSTEMS = ['ferry-kafka', 'ferry-ws'] as const satisfies readonly PeerSystem[];
export const PEER_SYSTEMS = ['redis', 'nats'] as const satisfies readonly PeerSystem[];
export type FerrySystem = (typeof FERRY_SYSTEMS)[number];
export type OtherSystem = (typeof PEER_SYSTEMS)[number];

export const PHASES = ['produce', 'consume'] as const;
export type PhaseName = (typeof PHASES)[number];

export const LATENCY_STATS = ['p50', 'p99', 'p99.9', 'max'] as const;
export type LatencyStat = (typeof LATENCY_STATS)[number];

/**
 * Open-loop rates (records/s of 1 KiB) per profile. Every quick and default
 * rate is also a full one, so figures of the same name compare across runs.
 */
export const LATENCY_RATES: Record<Profile, readonly number[]> = {
  quick: [1_000],
  default: [1_000, 10_000],
  full: [1_000, 5_000, 10_000, 20_000],
};
export const ALL_LATENCY_RATES: readonly number[] = LATENCY_RATES.full;

/** The target for Ferry / peer records/s. */
export const THROUGHPUT_RATIO_TARGET = 1.5;
/** The target for Ferry / peer p99 at the same rate: no worse than either. */
export const LATENCY_RATIO_TARGET = 1;

export const throughputName = (phase: PhaseName, system: PeerSystem): string => `peers ${phase} ${system} 1KiB`;
export const throughputRateName = (phase: PhaseName, system: PeerSystem): string => `${throughputName(phase, system)} (MB/s)`;
export const throughputRatioName = (phase: PhaseName, ferry: FerrySystem, peer: OtherSystem): string => `peers ${phase} ${ferry}/${peer}`;

/** '1k/s', '20k/s'. */
export const rateLabel = (ratePerSecond: number): string => `${ratePerSecond / 1000}k/s`;
export const latencyName = (system: PeerSystem, ratePerSecond: number, stat: LatencyStat): string => `peers latency ${system} ${rateLabel(ratePerSecond)} ${stat}`;
/** Records/s delivered while the latency was recorded: below the rate when the system fell behind. */
export const achievedRateName = (system: PeerSystem, ratePerSecond: number): string => `peers latency ${system} ${rateLabel(ratePerSecond)} achieved`;
export const latencyRatioName = (ferry: FerrySystem, peer: OtherSystem, ratePerSecond: number): string => `peers latency ${rateLabel(ratePerSecond)} p99 ${ferry}/${peer}`;

/** Run names for brokerUsageFigures: one child per system and kind of run. */
export const throughputUsageRun = (system: PeerSystem): string => `peers throughput ${system}`;
export const latencyUsageRun = (system: PeerSystem): string => `peers latency ${system}`;

/** The physical reference the throughput ratio table divides Ferry's MB/s by (bench/reference.bench.ts). */
export const REFERENCE_FIGURE = 'reference tcp to file 1MiB';
