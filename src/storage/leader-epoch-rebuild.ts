/**
 * Rebuilding the leader-epoch cache from the log itself: every batch header
 * at or after `fromOffset` carries the epoch of the leader that wrote it, and
 * the first batch of each newer epoch is where that epoch starts (Kafka does
 * the same during segment recovery). Only headers are read, no CRC checked:
 * recovery has already cut the log at its first bad batch.
 *
 * Runs on the caller's thread; it covers what an unclean stop left unflushed
 * (a segment or so, just read by recovery, so in the page cache), or the whole
 * log once when the checkpoint file is missing (a log written before it existed).
 */

import type { LeaderEpochCache } from './leader-epoch-cache.js';
import type { LogSegment } from './log-segment.js';
import { PARTITION_LEADER_EPOCH_OFFSET } from './record-batch.js';
import { scanBatches } from './segment-scan.js';

/** Forgets the entries from `fromOffset` on and assigns them again from the batches there. */
export function rebuildLeaderEpochs(cache: LeaderEpochCache, segments: readonly LogSegment[], fromOffset: number, batchBytesMax: number): void {
  cache.truncateFromEnd(fromOffset);
  for (const segment of segments) {
    if (segment.nextOffset <= fromOffset || segment.isEmpty) continue;
    const fromPosition = segment.baseOffset >= fromOffset ? 0 : segment.findBatchStart(fromOffset)?.position;
    if (fromPosition === undefined) continue;
    scanBatches({ fd: segment.fd, fromPosition, endPosition: segment.sizeBytes, verify: false, batchBytesMax }, (header, bytes, at) => {
      cache.assign(bytes.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET), header.baseOffset);
      return true;
    });
  }
}
