/**
 * File names of a partition directory, as Kafka names them:
 *
 *   00000000000000000000.log         record batches
 *   00000000000000000000.index       sparse offset index
 *   00000000000000000000.timeindex   sparse time index
 *   .cleaning/                       compaction output not yet swapped in (compaction.ts)
 *   checkpoint                       log start offset, recovery point, clean-shutdown flag
 *   00000000000000000000.snapshot    producer state at that offset (format: producer-snapshot.ts;
 *                                    when written, loaded, pruned: producer-snapshot-lifecycle.ts)
 *   leader-epoch-checkpoint          where each leader epoch starts (leader-epoch-checkpoint.ts)
 */

import path from 'node:path';

export const LOG_FILE_SUFFIX = '.log';
export const OFFSET_INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const CHECKPOINT_FILE_NAME = 'checkpoint';
export const LEADER_EPOCH_CHECKPOINT_FILE_NAME = 'leader-epoch-checkpoint';

const BASE_OFFSET_DIGITS = 20;
const SEGMENT_LOG_FILE = /^(\d{20})\.log$/;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(BASE_OFFSET_DIGITS, '0') + suffix;
}

export interface SegmentPaths {
  log: string;
  offsetIndex: string;
  timeIndex: string;
}

export function segmentPaths(dir: string, baseOffset: number): SegmentPaths {
  return {
    log: path.join(dir, segmentFileName(baseOffset, LOG_FILE_SUFFIX)),
    offsetIndex: path.join(dir, segmentFileName(baseOffset, OFFSET_INDEX_FILE_SUFFIX)),
    timeIndex: path.join(dir, segmentFileName(baseOffset, TIME_INDEX_FILE_SUFFIX)),
  };
}

/** Base offsets of the segments in a directory listing, ascending. */
export function segmentBaseOffsets(fileNames: readonly string[]): number[] {
  const offsets: number[] = [];
  for (const name of fileNames) {
    const match = SEGMENT_LOG_FILE.exec(name);
    if (match) offsets.push(Number(match[1]));
  }
  return offsets.sort((a, b) => a - b);
}
