/**
 * Sparse offset index of one segment, in Kafka's `.index` file layout:
 *
 *   entry  = relativeOffset int32 BE, position int32 BE     (ENTRY_BYTES = 8)
 *
 * `relativeOffset` is a batch's base offset minus the segment's base offset and
 * `position` the batch's byte position in the `.log` file. Entries are strictly
 * increasing in both. In memory the entries are an Int32Array of pairs; the
 * file mechanics are IndexFile's.
 */

import { IndexFile } from './index-file.js';

export const OFFSET_INDEX_RELATIVE_OFFSET_OFFSET = 0;
export const OFFSET_INDEX_POSITION_OFFSET = OFFSET_INDEX_RELATIVE_OFFSET_OFFSET + 4;
export const OFFSET_INDEX_ENTRY_BYTES = OFFSET_INDEX_POSITION_OFFSET + 4;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex extends IndexFile {
  private entries = new Int32Array(32);

  private constructor(path: string, baseOffset: number) {
    super(path, baseOffset, OFFSET_INDEX_ENTRY_BYTES);
  }

  /** Opens (creating if absent) and loads the index. */
  static open(path: string, baseOffset: number): OffsetIndex {
    const index = new OffsetIndex(path, baseOffset);
    index.load();
    return index;
  }

  protected reserve(entries: number): void {
    if (entries * 2 <= this.entries.length) return;
    const grown = new Int32Array(Math.max(entries * 2, this.entries.length * 2));
    grown.set(this.entries);
    this.entries = grown;
  }

  protected decodeEntry(i: number, bytes: Buffer, at: number): void {
    this.entries[2 * i] = bytes.readInt32BE(at + OFFSET_INDEX_RELATIVE_OFFSET_OFFSET);
    this.entries[2 * i + 1] = bytes.readInt32BE(at + OFFSET_INDEX_POSITION_OFFSET);
  }

  protected encodeEntry(i: number, bytes: Buffer, at: number): void {
    bytes.writeInt32BE(this.entries[2 * i]!, at + OFFSET_INDEX_RELATIVE_OFFSET_OFFSET);
    bytes.writeInt32BE(this.entries[2 * i + 1]!, at + OFFSET_INDEX_POSITION_OFFSET);
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
    this.reserve(this.count + 1);
    this.entries[2 * this.count] = offset - this.baseOffset;
    this.entries[2 * this.count + 1] = position;
    this.appended();
  }

  /** How many entries point below `position` (those a cut of the log at `position` keeps). */
  entriesBelowPosition(position: number): number {
    return this.floorSlot(position - 1, 1) + 1;
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
}
