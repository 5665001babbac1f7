/**
 * The piscina pool that runs CPU-heavy storage work off the networking
 * thread: recovery scans (CRC over whole segments), producer state replay
 * and compaction.
 *
 * The worker is `workers/storage-worker.js` after the build; when running
 * from source (tests, benchmarks) `workers/from-source.mjs` loads the `.ts`
 * through tsx.
 */

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { SegmentRecovery, SegmentSettings } from './log-segment.js';
import { openCleanedSegments, type CompactionPlan, type CompactionOutcome } from './compaction.js';
import type { ValidatedBatches, ValidationRules } from './batch-validator.js';
import type { ProducerReplayTask } from './producer-replay.js';
import { FerryError, type ErrorName } from '../errors.js';

/**
 * A validation's answer from a worker. Errors travel as data: a thrown
 * FerryError would lose its Kafka error name crossing the thread boundary.
 */
export type PoolValidation = { ok: ValidatedBatches } | { errorName: ErrorName; message: string };

export function unwrapValidation(answer: PoolValidation): ValidatedBatches {
  if ('ok' in answer) return answer.ok;
  throw new FerryError(answer.errorName, answer.message);
}

export interface StorageTasks {
  recoverSegment(dir: string, baseOffset: number, settings: SegmentSettings): Promise<SegmentRecovery>;
  compact(plan: CompactionPlan): Promise<CompactionOutcome>;
  /** Produce validation of batches whose decompression is too heavy for the caller's thread. */
  validate(bytes: Buffer, rules: ValidationRules): Promise<PoolValidation>;
  /** Producer state rebuilt from batch headers, as snapshot bytes; inline on the caller's thread when absent. */
  replayProducers?(task: ProducerReplayTask): Promise<Uint8Array>;
}

/** Threads in the pool: the machine has few cores and the event loop needs one. */
export const STORAGE_POOL_THREADS_MAX = Math.max(1, Math.min(4, os.availableParallelism() - 1));

const here = fileURLToPath(import.meta.url);
const runningFromSource = here.endsWith('.ts');
const WORKER_FILE = path.join(path.dirname(here), 'workers', runningFromSource ? 'from-source.mjs' : 'storage-worker.js');

export class StoragePool implements StorageTasks {
  private readonly piscina: Piscina;

  constructor(threadsMax = STORAGE_POOL_THREADS_MAX) {
    this.piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: 0,
      maxThreads: threadsMax,
      idleTimeout: 30_000,
      // Descriptors cross threads here: compaction's worker opens the replaced files'
      // (retiredFds) and the caller's thread closes them. With Node's default, a worker
      // closes at exit every raw descriptor it opened and did not close itself, so an idle
      // worker's exit would close those numbers again, by then other files' or sockets'.
      // Every descriptor the storage code opens has an explicit owner that closes it.
      trackUnmanagedFds: false,
    });
  }

  recoverSegment(dir: string, baseOffset: number, settings: SegmentSettings): Promise<SegmentRecovery> {
    return this.piscina.run({ dir, baseOffset, settings }, { name: 'recoverSegment' });
  }

  /** Cleans and installs in a worker, then opens the cleaned segments here a turn at a time, so the caller's swap is short. */
  async compact(plan: CompactionPlan): Promise<CompactionOutcome> {
    const outcome: CompactionOutcome = await this.piscina.run(plan, { name: 'compact' });
    return openCleanedSegments(outcome, plan.dir, plan.settings);
  }

  validate(bytes: Buffer, rules: ValidationRules): Promise<PoolValidation> {
    return this.piscina.run({ bytes, rules }, { name: 'validate' });
  }

  replayProducers(task: ProducerReplayTask): Promise<Uint8Array> {
    return this.piscina.run(task, { name: 'replayProducers' });
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}

let shared: StoragePool | null = null;

/** One pool per process, made on first use. */
export function sharedStoragePool(): StoragePool {
  shared ??= new StoragePool();
  return shared;
}

export async function closeSharedStoragePool(): Promise<void> {
  const pool = shared;
  shared = null;
  await pool?.destroy();
}
