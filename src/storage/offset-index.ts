/**
 * Sparse offset index of one segment, in Kafka's `.index` file layout:
 *
 *   entry  = relativeOffset int32 BE, position int32 BE     (ENTRY_BYTES = 8)
 *
 * `relativeOffset` is a batch's base offset minus the segment's base offset and
 * `position` the batch's byte position in the `.log` file. Entries are strictly
 * increasing in both. The whole index lives in memory (an Int32Array of pairs)
 * and each new entry is appended to the file, so the file never holds more
 * than the entries (no preallocated zero tail to mistake for data).
 *
 * New entries are written to the file in groups (`persist`), not one pwrite
 * each: an index is only a hint until its segment is flushed, sealed or
 * closed (all of which persist it), and recovery rebuilds it otherwise.
 */

import fs from 'node:fs';
import { readAt, writeAt } from './file-io.js';

export const OFFSET_INDEX_RELATIVE_OFFSET_OFFSET = 0;
export const OFFSET_INDEX_POSITION_OFFSET = OFFSET_INDEX_RELATIVE_OFFSET_OFFSET + 4;
export const OFFSET_INDEX_ENTRY_BYTES = OFFSET_INDEX_POSITION_OFFSET + 4;

/** Entries written to the file together; also bounds what an unclean stop can lose of an index. */
export const INDEX_WRITE_GROUP_ENTRIES = 128;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex {
  private entries: Int32Array;
  private count = 0;
  /** The file did not exist when opened: for a non-empty segment, the index must be rebuilt. */
  wasMissing = false;
  /** Entries already in the file. */
  private persistedCount = 0;

  private constructor(
    readonly path: string,
    readonly baseOffset: number,
    private readonly fd: number,
    initialCapacity: number,
  ) {
    this.entries = new Int32Array(Math.max(16, initialCapacity) * 2);
  }

  /** Opens (creating if absent) and loads the index. Returns null entries if the file is unreadable as an index. */
  static open(path: string, baseOffset: number): OffsetIndex {
    const existed = fs.existsSync(path);
    const fd = fs.openSync(path, existed ? 'r+' : 'w+');
    const size = fs.fstatSync(fd).size;
    const index = new OffsetIndex(path, baseOffset, fd, Math.floor(size / OFFSET_INDEX_ENTRY_BYTES));
    index.wasMissing = !existed;
    index.load(size);
    return index;
  }

  get entryCount(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.count * OFFSET_INDEX_ENTRY_BYTES;
  }

  /** The file's size was not a whole number of entries when it was loaded. */
  private tornTail = false;

  private load(size: number): void {
    this.tornTail = size % OFFSET_INDEX_ENTRY_BYTES !== 0;
    const count = Math.floor(size / OFFSET_INDEX_ENTRY_BYTES);
    if (count === 0) return;
    const bytes = Buffer.allocUnsafe(count * OFFSET_INDEX_ENTRY_BYTES);
    readAt(this.fd, bytes, 0, bytes.length, 0);
    for (let i = 0; i < count; i++) {
      this.entries[2 * i] = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + OFFSET_INDEX_RELATIVE_OFFSET_OFFSET);
      this.entries[2 * i + 1] = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + OFFSET_INDEX_POSITION_OFFSET);
    }
    this.count = count;
    this.persistedCount = count;
  }

  /**
   * True when the entries could have come from the log: whole entries,
   * strictly increasing offsets and positions, every position inside the log.
   */
  isConsistentWith(logSizeBytes: number, nextOffset: number): boolean {
    if (this.tornTail) return false;
    let lastRelative = -1;
    let lastPosition = -1;
    for (let i = 0; i < this.count; i++) {
      const relative = this.entries[2 * i]!;
      const position = this.entries[2 * i + 1]!;
      if (relative <= lastRelative || position <= lastPosition) return false;
      if (position >= logSizeBytes || this.baseOffset + relative >= nextOffset) return false;
      lastRelative = relative;
      lastPosition = position;
    }
    return true;
  }

  lastEntry(): OffsetPosition | null {
    if (this.count === 0) return null;
    return {
      offset: this.baseOffset + this.entries[2 * (this.count - 1)]!,
      position: this.entries[2 * (this.count - 1) + 1]!,
    };
  }

  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    if (this.count === this.entries.length / 2) {
      const grown = new Int32Array(this.entries.length * 2);
      grown.set(this.entries);
      this.entries = grown;
    }
    this.entries[2 * this.count] = relative;
    this.entries[2 * this.count + 1] = position;
    this.count++;
    if (this.count - this.persistedCount >= INDEX_WRITE_GROUP_ENTRIES) this.persist();
  }

  /** Writes the entries not yet in the file, in one pwrite. */
  persist(): void {
    if (this.persistedCount >= this.count) return;
    const bytes = Buffer.allocUnsafe((this.count - this.persistedCount) * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = this.persistedCount; i < this.count; i++) {
      const at = (i - this.persistedCount) * OFFSET_INDEX_ENTRY_BYTES;
      bytes.writeInt32BE(this.entries[2 * i]!, at + OFFSET_INDEX_RELATIVE_OFFSET_OFFSET);
      bytes.writeInt32BE(this.entries[2 * i + 1]!, at + OFFSET_INDEX_POSITION_OFFSET);
    }
    writeAt(this.fd, bytes, this.persistedCount * OFFSET_INDEX_ENTRY_BYTES);
    this.persistedCount = this.count;
  }

  /** Position of the last indexed batch whose base offset is <= `offset` (0 when none is). */
  lookup(offset: number): number {
    const slot = this.floorSlot(offset - this.baseOffset, 0);
    return slot < 0 ? 0 : this.entries[2 * slot + 1]!;
  }

  /** Position of the last indexed batch that starts at or before `position` (0 when none does). */
  lookupByPosition(position: number): number {
    const slot = this.floorSlot(position, 1);
    return slot < 0 ? 0 : this.entries[2 * slot + 1]!;
  }

  /** Binary search over field `field` (0 relative offset, 1 position) of the entries: last slot with value <= target. */
  private floorSlot(target: number, field: 0 | 1): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.entries[2 * mid + field]! <= target) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  /** Drop every entry, in memory and on disk (before a rebuild). */
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
    fs.ftruncateSync(this.fd, this.persistedCount * OFFSET_INDEX_ENTRY_BYTES);
  }

  get fileDescriptor(): number {
    return this.fd;
  }

  close(): void {
    this.persist();
    fs.closeSync(this.fd);
  }
}
