/**
 * Reads of a partition shared by the fetches of one event-loop turn. When an
 * append wakes the long-polls of a fan-out, every subscriber at the log end
 * reads the same new batches from the same offset: one read (a pread, a
 * buffer, a walk of the batch headers) now serves them all, instead of one
 * per subscriber (~15% of the broker's time with 1,000 WebSocket subscribers).
 *
 * A read is reused only when a fresh one would return the same bytes: same
 * log, same offset, same bound (the high watermark), the log's start and end
 * unchanged since, and either the
 * same maxBytes or an answer that reached the log end within the new
 * maxBytes. Entries live until the next check phase (one per log, the last
 * read), so at most one turn's reads are held. Callers must not change the
 * bytes they get (the doors only send them).
 */

import type { PartitionLog, ReadResult } from '../storage/partition-log.js';

interface RecentRead {
  offset: number;
  maxOffset: number;
  maxBytes: number;
  read: ReadResult;
}

export class SharedReads {
  private readonly recent = new Map<PartitionLog, RecentRead>();
  private clearScheduled = false;
  /** Reads served from `recent`, for tests and stats. */
  shared = 0;

  /** Whole batches from `offset`, none at or after `maxOffset` (the high watermark; the log end by default). */
  read(log: PartitionLog, offset: number, maxBytes: number, maxOffset = log.logEndOffset): ReadResult {
    const recent = this.recent.get(log);
    if (recent !== undefined && recent.offset === offset && recent.maxOffset === maxOffset && sameAnswer(recent, log, maxBytes)) {
      this.shared++;
      return recent.read;
    }
    const read = log.read(offset, maxBytes, { maxOffset });
    this.recent.set(log, { offset, maxOffset, maxBytes, read });
    this.clearSoon();
    return read;
  }

  private clearSoon(): void {
    if (this.clearScheduled) return;
    this.clearScheduled = true;
    setImmediate(() => {
      this.clearScheduled = false;
      this.recent.clear();
    });
  }
}

function sameAnswer(recent: RecentRead, log: PartitionLog, maxBytes: number): boolean {
  const { read } = recent;
  if (read.logEndOffset !== log.logEndOffset || read.logStartOffset !== log.logStartOffset) return false;
  if (recent.maxBytes === maxBytes) return true;
  return read.nextOffset === recent.maxOffset && read.bytes.length <= maxBytes;
}
