/**
 * Sparse time index of one segment, in Kafka's `.timeindex` file layout:
 *
 *   entry  = timestamp int64 BE, relativeOffset int32 BE     (ENTRY_BYTES = 12)
 *
 * Each entry says: every record at or before `baseOffset + relativeOffset` has a
 * timestamp <= `timestamp`, the largest seen so far. Timestamps and offsets are
 * non-decreasing. Held in memory (timestamps as doubles: milliseconds fit in
 * 2^53) and appended to the file entry by entry.
 */

import fs from 'node:fs';
import { readAt, writeAt } from './file-io.js';
import { INDEX_WRITE_GROUP_ENTRIES } from './offset-index.js';
import { writeInt64FromNumber } from './record-batch.js';

export const TIME_INDEX_TIMESTAMP_OFFSET = 0;
export const TIME_INDEX_RELATIVE_OFFSET_OFFSET = TIME_INDEX_TIMESTAMP_OFFSET + 8;
export const TIME_INDEX_ENTRY_BYTES = TIME_INDEX_RELATIVE_OFFSET_OFFSET + 4;

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

export class TimeIndex {
  private timestamps: Float64Array;
  private relativeOffsets: Int32Array;
  private count = 0;
  /** The file did not exist when opened: for a non-empty segment, the index must be rebuilt. */
  wasMissing = false;
  private tornTail = false;
  /** Entries already in the file (written in groups, as the offset index's). */
  private persistedCount = 0;

  private constructor(
    readonly path: string,
    readonly baseOffset: number,
    private readonly fd: number,
    initialCapacity: number,
  ) {
    const capacity = Math.max(16, initialCapacity);
    this.timestamps = new Float64Array(capacity);
    this.relativeOffsets = new Int32Array(capacity);
  }

  static open(path: string, baseOffset: number): TimeIndex {
    const existed = fs.existsSync(path);
    const fd = fs.openSync(path, existed ? 'r+' : 'w+');
    const size = fs.fstatSync(fd).size;
    const index = new TimeIndex(path, baseOffset, fd, Math.floor(size / TIME_INDEX_ENTRY_BYTES));
    index.wasMissing = !existed;
    index.load(size);
    return index;
  }

  get entryCount(): number {
    return this.count;
  }

  private load(size: number): void {
    this.tornTail = size % TIME_INDEX_ENTRY_BYTES !== 0;
    const count = Math.floor(size / TIME_INDEX_ENTRY_BYTES);
    if (count === 0) return;
    const bytes = Buffer.allocUnsafe(count * TIME_INDEX_ENTRY_BYTES);
    readAt(this.fd, bytes, 0, bytes.length, 0);
    for (let i = 0; i < count; i++) {
      this.timestamps[i] = Number(bytes.readBigInt64BE(i * TIME_INDEX_ENTRY_BYTES + TIME_INDEX_TIMESTAMP_OFFSET));
      this.relativeOffsets[i] = bytes.readInt32BE(i * TIME_INDEX_ENTRY_BYTES + TIME_INDEX_RELATIVE_OFFSET_OFFSET);
    }
    this.count = count;
    this.persistedCount = count;
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
    if (this.count === this.timestamps.length) {
      const timestamps = new Float64Array(this.count * 2);
      timestamps.set(this.timestamps);
      this.timestamps = timestamps;
      const offsets = new Int32Array(this.count * 2);
      offsets.set(this.relativeOffsets);
      this.relativeOffsets = offsets;
    }
    const relative = offset - this.baseOffset;
    this.timestamps[this.count] = timestamp;
    this.relativeOffsets[this.count] = relative;
    this.count++;
    if (this.count - this.persistedCount >= INDEX_WRITE_GROUP_ENTRIES) this.persist();
  }

  /** Writes the entries not yet in the file, in one pwrite. */
  persist(): void {
    if (this.persistedCount >= this.count) return;
    const bytes = Buffer.allocUnsafe((this.count - this.persistedCount) * TIME_INDEX_ENTRY_BYTES);
    for (let i = this.persistedCount; i < this.count; i++) {
      const at = (i - this.persistedCount) * TIME_INDEX_ENTRY_BYTES;
      writeInt64FromNumber(bytes, this.timestamps[i]!, at + TIME_INDEX_TIMESTAMP_OFFSET);
      bytes.writeInt32BE(this.relativeOffsets[i]!, at + TIME_INDEX_RELATIVE_OFFSET_OFFSET);
    }
    writeAt(this.fd, bytes, this.persistedCount * TIME_INDEX_ENTRY_BYTES);
    this.persistedCount = this.count;
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

  reset(): void {
    this.count = 0;
    this.persistedCount = 0;
    this.tornTail = false;
    fs.ftruncateSync(this.fd, 0);
  }

  /** Keep only the first `count` entries (an append rolled back). */
  truncateToEntries(count: number): void {
    this.count = Math.min(this.count, count);
    this.persistedCount = Math.min(this.persistedCount, this.count);
    // Only what the file holds: cutting to the in-memory count could pad it with zero entries.
    fs.ftruncateSync(this.fd, this.persistedCount * TIME_INDEX_ENTRY_BYTES);
  }

  get fileDescriptor(): number {
    return this.fd;
  }

  close(): void {
    this.persist();
    fs.closeSync(this.fd);
  }
}
