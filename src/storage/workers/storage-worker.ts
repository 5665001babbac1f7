/**
 * Storage pool worker: the task functions piscina runs by name, each a thin
 * wrapper over storage code that is also usable inline.
 */

import { LogSegment, type SegmentRecovery, type SegmentSettings } from '../log-segment.js';
import { compactSegments, type CompactionOutcome, type CompactionPlan } from '../compaction.js';

export function recoverSegment(task: { dir: string; baseOffset: number; settings: SegmentSettings }): SegmentRecovery {
  return LogSegment.recover(task.dir, task.baseOffset, task.settings);
}

export function compact(plan: CompactionPlan): CompactionOutcome {
  return compactSegments(plan);
}
