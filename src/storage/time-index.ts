/**
 * Sparse time index of one segment, in Kafka's `.timeindex` file layout:
 *
 *   entry  = timestamp int64 BE, relativeOffset int32 BE     (ENTRY_BYTES = 12)
 *
 * Each entry says: every record at or before `baseOffset + relativeOffset` has a
 * timestamp <= `timestamp`, the largest seen so far. Timestamps and offsets are
 * non-decreasing. In memory: timestamps as doubles (milliseconds fit in 2^53)
 * and relative offsets as int32; the file mechanics are IndexFile's.
 */

import { IndexFile } from './index-file.js';
import { readInt64AsNumber, writeInt64FromNumber } from './record-batch.js';

export const TIME_INDEX_TIMESTAMP_OFFSET = 0;
export const TIME_INDEX_RELATIVE_OFFSET_OFFSET = TIME_INDEX_TIMESTAMP_OFFSET + 8;
export const TIME_INDEX_ENTRY_BYTES = TIME_INDEX_RELATIVE_OFFSET_OFFSET + 4;

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

export class TimeIndex extends IndexFile {
  private timestamps = new Float64Array(16);
  private relativeOffsets = new Int32Array(16);

  private constructor(path: string, baseOffset: number) {
    super(path, baseOffset, TIME_INDEX_ENTRY_BYTES);
  }

  static open(path: string, baseOffset: number): TimeIndex {
    const index = new TimeIndex(path, baseOffset);
    index.load();
    return index;
  }

  protected reserve(entries: number): void {
    if (entries <= this.timestamps.length) return;
    const capacity = Math.max(entries, this.timestamps.length * 2);
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.timestamps);
    this.timestamps = timestamps;
    const offsets = new Int32Array(capacity);
    offsets.set(this.relativeOffsets);
    this.relativeOffsets = offsets;
  }

  protected decodeEntry(i: number, bytes: Buffer, at: number): void {
    this.timestamps[i] = readInt64AsNumber(bytes, at + TIME_INDEX_TIMESTAMP_OFFSET);
    this.relativeOffsets[i] = bytes.readInt32BE(at + TIME_INDEX_RELATIVE_OFFSET_OFFSET);
  }

  protected encodeEntry(i: number, bytes: Buffer, at: number): void {
    writeInt64FromNumber(bytes, this.timestamps[i]!, at + TIME_INDEX_TIMESTAMP_OFFSET);
    bytes.writeInt32BE(this.relativeOffsets[i]!, at + TIME_INDEX_RELATIVE_OFFSET_OFFSET);
  }

  isConsistentWith(nextOffset: number): boolean {
    if (this.tornTail) return false;
    for (let i = 0; i < this.count; i++) {
      const relative = this.relativeOffsets[i]!;
      if (relative < 0 || this.baseOffset + relative >= nextOffset) return false;
      if (i > 0 && (this.timestamps[i]! < this.timestamps[i - 1]! || relative < this.relativeOffsets[i - 1]!)) return false;
    }
    return true;
  }

  lastEntry(): TimestampOffset | null {
    if (this.count === 0) return null;
    return { timestamp: this.timestamps[this.count - 1]!, offset: this.baseOffset + this.relativeOffsets[this.count - 1]! };
  }

  /** Adds an entry when `timestamp` is newer than the last one. */
  maybeAppend(timestamp: number, offset: number): void {
    if (this.count > 0 && timestamp <= this.timestamps[this.count - 1]!) return;
    this.reserve(this.count + 1);
    this.timestamps[this.count] = timestamp;
    this.relativeOffsets[this.count] = offset - this.baseOffset;
    this.appended();
  }

  /** How many entries name an offset below `offset` (those a cut of the log there keeps); offsets never decrease. */
  entriesBelowOffset(offset: number): number {
    let kept = this.count;
    while (kept > 0 && this.baseOffset + this.relativeOffsets[kept - 1]! >= offset) kept--;
    return kept;
  }

  /**
   * An offset from which a scan for the first record with timestamp >= `target`
   * may start: the last entry whose timestamp is below the target says every
   * record up to its offset is older, so the answer lies after it.
   */
  scanStartFor(target: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.timestamps[mid]! < target) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 ? this.baseOffset : this.baseOffset + this.relativeOffsets[found]! + 1;
  }
}
