/**
 * Rebuilding a partition's producer state from its log: start from a
 * snapshot (or from nothing), then apply the producer fields of every batch
 * header in the given ranges, in log order. Only headers are looked at; no
 * record is decoded and no CRC checked (recovery has already cut the log at
 * its first bad batch).
 *
 * After an unclean stop the ranges cover everything written since the last
 * snapshot (a segment or so), so the walk runs in the storage pool; the
 * answer crosses back as snapshot bytes (producer-snapshot.ts), one format
 * for disk and thread boundary alike.
 */

import fs from 'node:fs';
import { encodeSnapshot, readSnapshot } from './producer-snapshot.js';
import { ProducerStateTable } from './producer-state.js';
import { scanBatches } from './segment-scan.js';
import { segmentPaths } from './segment-files.js';

export interface ReplayRange {
  baseOffset: number;
  /** Position of the first batch to apply in the segment's log file. */
  fromPosition: number;
  /** The segment file's size. */
  endPosition: number;
}

export interface ProducerReplayTask {
  dir: string;
  /** The snapshot to start from, null to start empty. */
  snapshotOffset: number | null;
  /** Segments to walk, in log order. */
  ranges: ReplayRange[];
  /** The log end: the offset the answer's state is at. */
  endOffset: number;
  batchBytesMax: number;
}

/** The state after the replay, encoded as a snapshot at `task.endOffset`. */
export function replayProducerState(task: ProducerReplayTask): Buffer {
  const table = new ProducerStateTable(task.dir);
  if (task.snapshotOffset !== null) for (const entry of readSnapshot(task.dir, task.snapshotOffset).entries) table.restore(entry);
  for (const range of task.ranges) {
    const file = segmentPaths(task.dir, range.baseOffset).log;
    const fd = fs.openSync(file, 'r');
    try {
      const result = scanBatches({ fd, fromPosition: range.fromPosition, endPosition: range.endPosition, verify: false, batchBytesMax: task.batchBytesMax }, (_header, bytes, at) => {
        table.replay(bytes, at);
        return true;
      });
      if (result.stop !== 'end') throw new Error(`producer state replay of ${file} stopped at byte ${result.endPosition}: ${result.reason ?? result.stop}`);
    } finally {
      fs.closeSync(fd);
    }
  }
  return encodeSnapshot(task.endOffset, table.all());
}
