/**
 * What a saved run holds (bench/results/<ISO date-time>.json) and the run
 * profiles, shared by bench/run.ts and the report modules.
 *
 *   quick    --quick / --profile quick: the smoke run of `npm test` (seconds)
 *   default  `npm run bench`: every suite, sized to finish in under 5 minutes
 *   full     `npm run bench:full`: every suite at full size, plus the long runs
 *            suites gate on context.profile === 'full'; writes latest.md
 *   compare  `npm run bench:compare`: only the peers comparison (and the
 *            physical reference its ratio table divides by), at full size
 */

import type { Figure, Profile } from '../storage.bench.js';

export const RUN_PROFILES = ['quick', 'default', 'full', 'compare'] as const;
export type RunProfile = (typeof RUN_PROFILES)[number];

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  totalMemoryBytes: number;
  platform: string;
  arch: string;
  kernel: string;
  nodeVersion: string;
  /** What src/storage/crc32c.ts chose at load: native, wasm or reference. */
  crc32cImplementation: string;
  hardwareCrc32c: boolean;
}

export interface ResultsFile {
  startedAt: string;
  durationMs: number;
  commit: string | null;
  /** `profile` is absent in runs saved before profiles existed: see profileOf. */
  options: { profile?: RunProfile; quick: boolean; filter: string | null };
  machine: MachineInfo;
  figures: Figure[];
}

/** The sizes suites run at under a run profile: compare is the peers' part of full. */
export function suiteProfileOf(profile: RunProfile): Profile {
  return profile === 'compare' ? 'full' : profile;
}

/** A saved run's profile; runs saved before profiles existed were quick or what is now default. */
export function profileOf(results: ResultsFile): RunProfile {
  return results.options.profile ?? (results.options.quick ? 'quick' : 'default');
}
