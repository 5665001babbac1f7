/**
 * Storage pool worker: the task functions piscina runs by name, each a thin
 * wrapper over storage code that is also usable inline.
 */

import { LogSegment, type SegmentRecovery, type SegmentSettings } from '../log-segment.js';
import { compactSegments, type CompactionOutcome, type CompactionPlan } from '../compaction.js';
import { validateBatches, type ValidationRules } from '../batch-validator.js';
import { replayProducerState, type ProducerReplayTask } from '../producer-replay.js';
import type { PoolValidation } from '../storage-pool.js';
import { FerryError } from '../../errors.js';

export function recoverSegment(task: { dir: string; baseOffset: number; settings: SegmentSettings }): SegmentRecovery {
  return LogSegment.recover(task.dir, task.baseOffset, task.settings);
}

export function compact(plan: CompactionPlan): CompactionOutcome {
  return compactSegments(plan);
}

export function replayProducers(task: ProducerReplayTask): Uint8Array {
  return replayProducerState(task);
}

export function validate(task: { bytes: Uint8Array; rules: ValidationRules }): PoolValidation {
  // Structured cloning hands a Uint8Array over; view it as a Buffer without copying.
  const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  try {
    return { ok: validateBatches(bytes, task.rules) };
  } catch (error) {
    if (error instanceof FerryError) return { errorName: error.errorName, message: error.message };
    throw error;
  }
}
