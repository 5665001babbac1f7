/**
 * One segment of a partition log: a `.log` file of record batches starting at
 * `baseOffset`, with its sparse offset and time indexes. The segment holds one
 * descriptor, the log's, for its whole life; the indexes open their files only
 * for the operation at hand (IndexFile).
 *
 * Appends write whole batches at the end of the file (positioned writes into
 * the page cache) and add an index entry every `indexIntervalBytes`. Reads use
 * the offset index to find where to start, then walk batch headers in memory
 * and return whole batches as one slice of the file, never decoding records.
 */

import fs from 'node:fs';
import { assert } from '../errors.js';
import { fdatasync, preallocate, readAt, writeAt } from './file-io.js';
import { OffsetIndex, OFFSET_INDEX_ENTRY_BYTES } from './offset-index.js';
import {
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_BYTES,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  readInt64AsNumber,
} from './record-batch.js';
import { LOOKUP_CHUNK_BYTES, scanBatches, wholeBatchesIn, type BatchHeader } from './segment-scan.js';
import { segmentPaths, type SegmentPaths } from './segment-files.js';
import { TimeIndex } from './time-index.js';

export interface SegmentSettings {
  indexIntervalBytes: number;
  /** Disk to reserve for a new segment's log file (0: none). */
  preallocateBytes?: number;
  /** Largest batch a scan treats as sane. */
  batchBytesMax: number;
}

export interface SegmentRecovery {
  baseOffset: number;
  validBytes: number;
  truncatedBytes: number;
  nextOffset: number;
  /** Why the scan stopped before the end of the file, if it did. */
  reason: string | null;
}

/** A range of a segment file, pinned open until released. */
export interface FileRange {
  fd: number;
  position: number;
  sizeBytes: number;
  release(): void;
}

export interface SegmentMark {
  sizeBytes: number;
  nextOffset: number;
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
  bytesSinceIndexEntry: number;
  rollTimestampMs: number;
  offsetIndexEntries: number;
  timeIndexEntries: number;
}

export interface SegmentRead {
  /** Whole batches, byte for byte as stored. */
  bytes: Buffer;
  /** Offset just past the last batch returned. */
  nextOffset: number;
}

/** Offset a relative index entry can still express. */
const RELATIVE_OFFSET_MAX = 0x7fffffff;

export class LogSegment {
  readonly paths: SegmentPaths;
  /** Offset after the last batch in this segment (== baseOffset while empty). */
  nextOffset: number;
  sizeBytes: number;
  /** Largest record timestamp in the segment, -1 when none. */
  maxTimestamp = -1;
  private offsetOfMaxTimestamp = -1;
  private bytesSinceIndexEntry = 0;
  /** The file is on disk up to here (every byte below was fdatasync'ed). */
  private flushedSize = 0;
  /** Bumped by every rollback: a flush that saw one must not count bytes that were cut and rewritten. */
  private rollbacks = 0;
  /** Max timestamp of the first batch: segment.ms counts from it, as in Kafka. -1 while empty. */
  rollTimestampMs = -1;
  /** Set once the segment is closed; a late flush must not touch its descriptor (or its index files' paths). */
  closed = false;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    readonly fd: number,
    readonly offsetIndex: OffsetIndex,
    readonly timeIndex: TimeIndex,
    private readonly settings: SegmentSettings,
  ) {
    this.paths = segmentPaths(dir, baseOffset);
    this.nextOffset = baseOffset;
    this.sizeBytes = fs.fstatSync(fd).size;
  }

  /** A new, empty segment. On failure nothing of it is left behind, so the roll can be tried again. */
  static create(dir: string, baseOffset: number, settings: SegmentSettings): LogSegment {
    const paths = segmentPaths(dir, baseOffset);
    let fd = -1;
    try {
      fd = fs.openSync(paths.log, 'wx+');
      // Reserved with FALLOC_FL_KEEP_SIZE: the file's size stays its data, so recovery never meets a zero tail.
      if (settings.preallocateBytes) preallocate(fd, 0, settings.preallocateBytes);
      fs.rmSync(paths.offsetIndex, { force: true });
      fs.rmSync(paths.timeIndex, { force: true });
      const offsetIndex = OffsetIndex.open(paths.offsetIndex, baseOffset);
      const timeIndex = TimeIndex.open(paths.timeIndex, baseOffset);
      return new LogSegment(dir, baseOffset, fd, offsetIndex, timeIndex, settings);
    } catch (error) {
      if (fd >= 0) fs.closeSync(fd);
      LogSegment.deleteFiles(dir, baseOffset);
      throw error;
    }
  }

  /**
   * Opens an existing segment. Its indexes are trusted only if they are
   * consistent with the log; otherwise they are rebuilt from a scan.
   */
  static open(dir: string, baseOffset: number, settings: SegmentSettings): LogSegment {
    const segment = LogSegment.openFiles(dir, baseOffset, settings);
    segment.loadTail();
    const indexMissing = segment.sizeBytes > 0 && (segment.offsetIndex.wasMissing || segment.timeIndex.wasMissing);
    if (indexMissing || !segment.offsetIndex.isConsistentWith(segment.sizeBytes, segment.nextOffset) || !segment.timeIndex.isConsistentWith(segment.nextOffset)) {
      segment.rebuildIndexes();
    }
    return segment;
  }

  private static openFiles(dir: string, baseOffset: number, settings: SegmentSettings): LogSegment {
    const paths = segmentPaths(dir, baseOffset);
    const fd = fs.openSync(paths.log, 'r+');
    const segment = new LogSegment(dir, baseOffset, fd, OffsetIndex.open(paths.offsetIndex, baseOffset), TimeIndex.open(paths.timeIndex, baseOffset), settings);
    // Truncating to its own size gives back blocks a preallocation reserved beyond the data.
    fs.ftruncateSync(fd, segment.sizeBytes);
    // What a restart finds was flushed by a clean close or synced by recovery.
    segment.flushedSize = segment.sizeBytes;
    return segment;
  }

  /**
   * Recovery after an unclean stop: validates every batch (length, magic,
   * CRC32C, offsets increasing), cuts the file at the first torn or corrupt
   * one, and rebuilds both indexes from what remains. Runs in the storage pool.
   */
  static recover(dir: string, baseOffset: number, settings: SegmentSettings): SegmentRecovery {
    const segment = LogSegment.openFiles(dir, baseOffset, settings);
    try {
      const originalBytes = segment.sizeBytes;
      segment.offsetIndex.reset();
      segment.timeIndex.reset();
      let expectedMinOffset = baseOffset;
      let offsetProblem: string | undefined;
      const result = scanBatches({ fd: segment.fd, fromPosition: 0, endPosition: segment.sizeBytes, verify: true, batchBytesMax: settings.batchBytesMax }, (header) => {
        if (header.baseOffset < expectedMinOffset || header.lastOffset < header.baseOffset) {
          offsetProblem = `batch at ${header.position} has offsets ${header.baseOffset}..${header.lastOffset}, expected >= ${expectedMinOffset}`;
          return false;
        }
        segment.indexBatch(header.baseOffset, header.position, header.sizeBytes, header.maxTimestamp, header.lastOffset);
        segment.nextOffset = header.lastOffset + 1;
        expectedMinOffset = segment.nextOffset;
        return true;
      });
      segment.closeTimeIndexEntry();
      if (result.endPosition < originalBytes) fs.ftruncateSync(segment.fd, result.endPosition);
      // The log becomes the recovery point's new base: what it holds must be on disk, not just in the page cache.
      fs.fdatasyncSync(segment.fd);
      segment.offsetIndex.syncBlocking();
      segment.timeIndex.syncBlocking();
      return {
        baseOffset,
        validBytes: result.endPosition,
        truncatedBytes: originalBytes - result.endPosition,
        nextOffset: segment.nextOffset,
        reason: offsetProblem ?? result.reason ?? null,
      };
    } finally {
      segment.close();
    }
  }

  /** Finds nextOffset and the newest timestamp by walking the batches after the last index entry. */
  private loadTail(): void {
    const last = this.offsetIndex.lastEntry();
    const lastTime = this.timeIndex.lastEntry();
    let from = last && last.position < this.sizeBytes ? last.position : 0;
    if (lastTime) this.noteTimestamp(lastTime.timestamp, lastTime.offset);
    const first = this.sizeBytes > 0 ? this.findBatchStart(this.baseOffset) : null;
    if (first) this.rollTimestampMs = first.maxTimestamp;
    const visit = (header: BatchHeader): boolean => {
      this.nextOffset = header.lastOffset + 1;
      this.noteTimestamp(header.maxTimestamp, header.lastOffset);
      return true;
    };
    const result = scanBatches({ fd: this.fd, fromPosition: from, endPosition: this.sizeBytes, verify: false, batchBytesMax: this.settings.batchBytesMax }, visit);
    if (result.stop !== 'end' && from !== 0) {
      // The index pointed into the middle of a batch: walk from the start instead.
      from = 0;
      this.nextOffset = this.baseOffset;
      scanBatches({ fd: this.fd, fromPosition: 0, endPosition: this.sizeBytes, verify: false, batchBytesMax: this.settings.batchBytesMax }, visit);
    }
  }

  /** Rewrites both indexes from a walk over the whole log file. */
  rebuildIndexes(): void {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.bytesSinceIndexEntry = 0;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    this.nextOffset = this.baseOffset;
    scanBatches({ fd: this.fd, fromPosition: 0, endPosition: this.sizeBytes, verify: false, batchBytesMax: this.settings.batchBytesMax }, (header) => {
      this.indexBatch(header.baseOffset, header.position, header.sizeBytes, header.maxTimestamp, header.lastOffset);
      this.nextOffset = header.lastOffset + 1;
      return true;
    });
    this.closeTimeIndexEntry();
    this.persistIndexes();
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /** Whether a batch ending at `lastOffset` still fits this segment's relative offsets and index. */
  canHold(lastOffset: number, indexBytesMax: number): boolean {
    return lastOffset - this.baseOffset <= RELATIVE_OFFSET_MAX && (this.offsetIndex.entryCount + 1) * OFFSET_INDEX_ENTRY_BYTES <= indexBytesMax;
  }

  /**
   * Appends batches already validated and carrying their final offsets.
   * `bytes[start, end)` holds whole batches; one positioned write covers them all.
   */
  append(bytes: Buffer, start: number, end: number): void {
    const position = this.sizeBytes;
    writeAt(this.fd, start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), position);
    let at = start;
    while (at < end) {
      const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
      const baseOffset = readInt64AsNumber(bytes, at + BASE_OFFSET_OFFSET);
      const lastOffset = baseOffset + bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      const maxTimestamp = readInt64AsNumber(bytes, at + MAX_TIMESTAMP_OFFSET);
      if (this.rollTimestampMs < 0) this.rollTimestampMs = maxTimestamp;
      this.indexBatch(baseOffset, position + (at - start), size, maxTimestamp, lastOffset);
      this.nextOffset = lastOffset + 1;
      at += size;
    }
    this.sizeBytes += end - start;
  }

  private indexBatch(baseOffset: number, position: number, sizeBytes: number, maxTimestamp: number, lastOffset: number): void {
    if (this.bytesSinceIndexEntry > this.settings.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset, position);
      if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += sizeBytes;
    this.noteTimestamp(maxTimestamp, lastOffset);
  }

  private noteTimestamp(timestamp: number, offset: number): void {
    if (timestamp > this.maxTimestamp) {
      this.maxTimestamp = timestamp;
      this.offsetOfMaxTimestamp = offset;
    }
  }

  /** The segment stops being active: keep its newest timestamp in the time index, give back reserved disk. */
  seal(): void {
    this.closeTimeIndexEntry();
    this.persistIndexes();
    if (this.settings.preallocateBytes) fs.ftruncateSync(this.fd, this.sizeBytes);
  }

  /** Writes index entries still held only in memory. */
  persistIndexes(): void {
    this.offsetIndex.persist();
    this.timeIndex.persist();
  }

  /** Records the newest timestamp in the time index, so it survives the segment becoming inactive. */
  closeTimeIndexEntry(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
  }

  /**
   * Reads whole batches from the one holding `fromOffset`, up to `maxBytes`
   * (at least one batch when `minOneBatch`, however large, so a consumer is never
   * stuck behind a big batch), stopping before any batch at or past `maxOffset`.
   * Returns null when this segment holds nothing at or after `fromOffset`.
   */
  read(fromOffset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): SegmentRead | null {
    const indexPosition = this.offsetIndex.lookup(fromOffset);
    if (indexPosition >= this.sizeBytes) return null;
    // One read from the index position covers the short walk to the wanted batch and the answer itself.
    const want = Math.min(this.sizeBytes - indexPosition, maxBytes + this.settings.indexIntervalBytes + LOOKUP_CHUNK_BYTES);
    const bytes = this.readExactly(indexPosition, want);
    let start = 0;
    while (start + BATCH_HEADER_BYTES <= want) {
      const lastOffset = readInt64AsNumber(bytes, start + BASE_OFFSET_OFFSET) + bytes.readInt32BE(start + LAST_OFFSET_DELTA_OFFSET);
      if (lastOffset >= fromOffset) break;
      start += bytes.readInt32BE(start + LENGTH_OFFSET) + LOG_OVERHEAD;
    }
    if (start + BATCH_HEADER_BYTES > want) {
      if (indexPosition + start >= this.sizeBytes) return null; // nothing at or after fromOffset here (compacted away)
      return this.readFrom(this.findBatchStart(fromOffset), fromOffset, maxBytes, maxOffset, minOneBatch);
    }
    const firstSize = bytes.readInt32BE(start + LENGTH_OFFSET) + LOG_OVERHEAD;
    const limit = minOneBatch ? Math.max(maxBytes, firstSize) : maxBytes;
    if (start + firstSize > want) {
      return this.readFrom({ position: indexPosition + start, sizeBytes: firstSize }, fromOffset, limit, maxOffset, minOneBatch);
    }
    const end = Math.min(want, start + limit);
    const window = bytes.subarray(start, end);
    const kept = wholeBatchesIn(window, window.length, maxOffset, fromOffset);
    return { bytes: window.subarray(0, kept.end), nextOffset: kept.nextOffset };
  }

  /**
   * The range `read` would return, found from batch headers alone (the index
   * by position, then a short walk), so the bytes can go from the page cache to
   * a socket with sendfile and never enter the process. Null when this segment
   * holds nothing at or after `fromOffset`.
   */
  locate(fromOffset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): { position: number; sizeBytes: number; nextOffset: number } | null {
    const first = this.findBatchStart(fromOffset);
    if (first === null) return null;
    if (first.lastOffset >= maxOffset || (!minOneBatch && first.sizeBytes > maxBytes)) return { position: first.position, sizeBytes: 0, nextOffset: fromOffset };
    let limit = first.position + Math.max(maxBytes, minOneBatch ? first.sizeBytes : 0);
    if (maxOffset < this.nextOffset) {
      const cut = this.findBatchStart(maxOffset);
      if (cut !== null) limit = Math.min(limit, cut.position);
    }
    // Jump close to the limit through the index, then walk headers up to it.
    let end = first.position + first.sizeBytes;
    let nextOffset = first.lastOffset + 1;
    const from = Math.max(end, this.offsetIndex.lookupByPosition(limit));
    if (from > end) {
      const previous = this.batchEndingAt(from);
      if (previous !== null) {
        end = from;
        nextOffset = previous;
      }
    }
    scanBatches(
      { fd: this.fd, fromPosition: end, endPosition: Math.min(this.sizeBytes, limit), verify: false, batchBytesMax: Number.MAX_SAFE_INTEGER, chunkBytes: LOOKUP_CHUNK_BYTES },
      (header) => {
        if (header.position + header.sizeBytes > limit) return false;
        end = header.position + header.sizeBytes;
        nextOffset = header.lastOffset + 1;
        return true;
      },
    );
    return { position: first.position, sizeBytes: end - first.position, nextOffset };
  }

  /** The offset after the batch that ends exactly at `position` (an indexed batch start), or null. */
  private batchEndingAt(position: number): number | null {
    const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
    if (readAt(this.fd, header, 0, BATCH_HEADER_BYTES, position) < BATCH_HEADER_BYTES) return null;
    return readInt64AsNumber(header, BASE_OFFSET_OFFSET);
  }

  /** The slow path of `read`: a known batch start, read afresh (a batch too large for the first read, or a long walk). */
  private readFrom(first: { position: number; sizeBytes: number } | null, fromOffset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): SegmentRead | null {
    if (first === null) return null;
    const limit = minOneBatch ? Math.max(maxBytes, first.sizeBytes) : maxBytes;
    const want = Math.min(this.sizeBytes - first.position, limit);
    const bytes = this.readExactly(first.position, want);
    const kept = wholeBatchesIn(bytes, want, maxOffset, fromOffset);
    return { bytes: bytes.subarray(0, kept.end), nextOffset: kept.nextOffset };
  }

  private readExactly(position: number, length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    const read = readAt(this.fd, bytes, 0, length, position);
    assert(read === length, `short read of ${this.paths.log}: ${read} of ${length} bytes at ${position}`);
    return bytes;
  }

  /** The first batch whose last offset is >= `offset`, found through the index then a short header walk. */
  findBatchStart(offset: number): BatchHeader | null {
    const found: { header: BatchHeader | null } = { header: null };
    scanBatches(
      { fd: this.fd, fromPosition: this.offsetIndex.lookup(offset), endPosition: this.sizeBytes, verify: false, batchBytesMax: Number.MAX_SAFE_INTEGER, chunkBytes: LOOKUP_CHUNK_BYTES },
      (header) => {
        if (header.lastOffset < offset) return true;
        found.header = header;
        return false;
      },
    );
    return found.header;
  }

  /** One whole batch at a known position (its header already walked). */
  readBatchAt(position: number, sizeBytes: number): Buffer {
    return this.readExactly(position, sizeBytes);
  }

  /** Removes a segment's files without opening them (recovery drops segments after a corrupt one). */
  static deleteFiles(dir: string, baseOffset: number): void {
    const paths = segmentPaths(dir, baseOffset);
    for (const file of [paths.log, paths.offsetIndex, paths.timeIndex]) fs.rmSync(file, { force: true });
  }

  /** Where the segment stands now, so that a failed append can be undone exactly. */
  mark(): SegmentMark {
    return {
      sizeBytes: this.sizeBytes,
      nextOffset: this.nextOffset,
      maxTimestamp: this.maxTimestamp,
      offsetOfMaxTimestamp: this.offsetOfMaxTimestamp,
      bytesSinceIndexEntry: this.bytesSinceIndexEntry,
      rollTimestampMs: this.rollTimestampMs,
      offsetIndexEntries: this.offsetIndex.entryCount,
      timeIndexEntries: this.timeIndex.entryCount,
    };
  }

  /** Cuts the log and its indexes back to `mark`, forgetting everything appended since. */
  rollBackTo(mark: SegmentMark): void {
    fs.ftruncateSync(this.fd, mark.sizeBytes);
    this.offsetIndex.truncateToEntries(mark.offsetIndexEntries);
    this.timeIndex.truncateToEntries(mark.timeIndexEntries);
    this.sizeBytes = mark.sizeBytes;
    this.nextOffset = mark.nextOffset;
    this.maxTimestamp = mark.maxTimestamp;
    this.offsetOfMaxTimestamp = mark.offsetOfMaxTimestamp;
    this.bytesSinceIndexEntry = mark.bytesSinceIndexEntry;
    this.rollTimestampMs = mark.rollTimestampMs;
    this.flushedSize = Math.min(this.flushedSize, mark.sizeBytes);
    this.rollbacks++;
  }

  /**
   * Removes every batch whose last offset is >= `offset` (Kafka's
   * LogSegment.truncateTo): the file is cut at the first such batch, so an
   * `offset` inside a batch takes that whole batch and nextOffset becomes its
   * base offset. Index entries at or past the cut go; the newest timestamp
   * and nextOffset are found again from what is left, as on open. Returns the
   * bytes removed. Not synced: the caller fdatasyncs.
   */
  truncateTo(offset: number): number {
    const first = this.findBatchStart(offset);
    if (first === null) return 0;
    const removedBytes = this.sizeBytes - first.position;
    this.rollBackTo({
      sizeBytes: first.position,
      nextOffset: this.baseOffset,
      maxTimestamp: -1,
      offsetOfMaxTimestamp: -1,
      bytesSinceIndexEntry: 0,
      rollTimestampMs: -1,
      offsetIndexEntries: this.offsetIndex.entriesBelowPosition(first.position),
      timeIndexEntries: this.timeIndex.entriesBelowOffset(first.baseOffset),
    });
    this.loadTail();
    return removedBytes;
  }

  /** Bytes written since the last completed fdatasync. */
  get unflushedBytes(): number {
    return this.sizeBytes - this.flushedSize;
  }

  /** fdatasync of the log, and of the indexes too when `withIndexes` (an inactive segment's last flush). */
  async flush(withIndexes: boolean): Promise<void> {
    // A closed segment's descriptors may already belong to other files: never report it flushed.
    if (this.closed) throw new Error(`segment ${this.paths.log} is closed`);
    const target = this.sizeBytes;
    const rollbacksBefore = this.rollbacks;
    this.users++;
    try {
      // Each index sync persists its pending entries and opens a descriptor of its own, before its first await.
      const syncs = [fdatasync(this.fd)];
      if (withIndexes) syncs.push(this.offsetIndex.sync(), this.timeIndex.sync());
      // All settled, not Promise.all: a failed index sync must not release the log's descriptor while its fdatasync runs.
      const failed = (await Promise.allSettled(syncs)).find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      if (this.rollbacks === rollbacksBefore) this.flushedSize = Math.max(this.flushedSize, target);
    } finally {
      this.release();
    }
  }

  /** fdatasyncs and file-range readers (sendfile) using the log's descriptor: closing it waits for them. */
  private users = 0;

  /**
   * A byte range of this segment's file for a reader that copies from the
   * descriptor itself (sendfile): the log file stays open until `release`.
   */
  lease(position: number, sizeBytes: number): FileRange {
    assert(!this.closed, `lease on closed segment ${this.paths.log}`);
    this.users++;
    let released = false;
    return {
      fd: this.fd,
      position,
      sizeBytes,
      release: () => {
        if (released) return;
        released = true;
        this.release();
      },
    };
  }

  private release(): void {
    this.users--;
    if (this.users === 0 && this.closed) fs.closeSync(this.fd);
  }

  /**
   * Persists the indexes now (their files still exist: delete unlinks them
   * next) and closes the log's descriptor once no fdatasync or sendfile is
   * using it (a reused descriptor number must never be synced by mistake).
   * Index syncs in flight hold descriptors of their own and need no waiting.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.closeIndexes();
    } finally {
      if (this.users === 0) fs.closeSync(this.fd);
    }
  }

  private closeIndexes(): void {
    try {
      this.offsetIndex.close();
    } finally {
      this.timeIndex.close();
    }
  }

  /** Closes and removes the segment's files. */
  delete(): void {
    this.close();
    // Unlinking while a descriptor is still open is fine on POSIX: the data goes when the last descriptor closes.
    for (const file of [this.paths.log, this.paths.offsetIndex, this.paths.timeIndex]) fs.rmSync(file, { force: true });
  }
}

