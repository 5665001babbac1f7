/**
 * One segment of a partition log: a `.log` file of record batches starting at
 * `baseOffset`, with its sparse offset and time indexes.
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
import { LOG_OVERHEAD, LENGTH_OFFSET, MAX_TIMESTAMP_OFFSET, batchBaseOffset, batchLastOffsetDelta } from './record-batch.js';
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
  /** Bytes written since the last fdatasync of the log file. */
  unflushedBytes = 0;
  /** Max timestamp of the first batch: segment.ms counts from it, as in Kafka. -1 while empty. */
  rollTimestampMs = -1;
  /** Set once the segment's files are closed; a late flush must not touch its descriptors. */
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

  static create(dir: string, baseOffset: number, settings: SegmentSettings): LogSegment {
    const paths = segmentPaths(dir, baseOffset);
    const fd = fs.openSync(paths.log, 'wx+');
    // Reserved with FALLOC_FL_KEEP_SIZE: the file's size stays its data, so recovery never meets a zero tail.
    if (settings.preallocateBytes) preallocate(fd, 0, settings.preallocateBytes);
    fs.rmSync(paths.offsetIndex, { force: true });
    fs.rmSync(paths.timeIndex, { force: true });
    return new LogSegment(dir, baseOffset, fd, OffsetIndex.open(paths.offsetIndex, baseOffset), TimeIndex.open(paths.timeIndex, baseOffset), settings);
  }

  /**
   * Opens an existing segment. Its indexes are trusted only if they are
   * consistent with the log; otherwise they are rebuilt from a scan.
   */
  static open(dir: string, baseOffset: number, settings: SegmentSettings): LogSegment {
    const paths = segmentPaths(dir, baseOffset);
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
    return new LogSegment(dir, baseOffset, fd, OffsetIndex.open(paths.offsetIndex, baseOffset), TimeIndex.open(paths.timeIndex, baseOffset), settings);
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
      if (result.endPosition < originalBytes) {
        fs.ftruncateSync(segment.fd, result.endPosition);
        fs.fdatasyncSync(segment.fd);
      }
      fs.fdatasyncSync(segment.offsetIndex.fileDescriptor);
      fs.fdatasyncSync(segment.timeIndex.fileDescriptor);
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
      const baseOffset = Number(batchBaseOffset(bytes, at));
      const lastOffset = baseOffset + batchLastOffsetDelta(bytes, at);
      const maxTimestamp = Number(bytes.readBigInt64BE(at + MAX_TIMESTAMP_OFFSET));
      if (this.rollTimestampMs < 0) this.rollTimestampMs = maxTimestamp;
      this.indexBatch(baseOffset, position + (at - start), size, maxTimestamp, lastOffset);
      this.nextOffset = lastOffset + 1;
      at += size;
    }
    this.sizeBytes += end - start;
    this.unflushedBytes += end - start;
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
    if (this.settings.preallocateBytes) fs.ftruncateSync(this.fd, this.sizeBytes);
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
    const first = this.findBatchStart(fromOffset);
    if (first === null) return null;
    if (first.baseOffset >= maxOffset) return { bytes: Buffer.alloc(0), nextOffset: first.baseOffset };
    const available = this.sizeBytes - first.position;
    const want = Math.min(available, minOneBatch ? Math.max(maxBytes, first.sizeBytes) : maxBytes);
    const bytes = Buffer.allocUnsafe(want);
    const read = readAt(this.fd, bytes, 0, want, first.position);
    assert(read === want, `short read of ${this.paths.log}: ${read} of ${want} bytes at ${first.position}`);
    const kept = wholeBatchesIn(bytes, want, maxOffset, first.baseOffset);
    return { bytes: bytes.subarray(0, kept.end), nextOffset: kept.nextOffset };
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
    const bytes = Buffer.allocUnsafe(sizeBytes);
    const read = readAt(this.fd, bytes, 0, sizeBytes, position);
    assert(read === sizeBytes, `short read of ${this.paths.log}: ${read} of ${sizeBytes} bytes at ${position}`);
    return bytes;
  }

  /** Removes a segment's files without opening them (recovery drops segments after a corrupt one). */
  static deleteFiles(dir: string, baseOffset: number): void {
    const paths = segmentPaths(dir, baseOffset);
    for (const file of [paths.log, paths.offsetIndex, paths.timeIndex]) fs.rmSync(file, { force: true });
  }

  /** Cuts the log at `position` (a batch boundary) and drops index entries past it. */
  truncateTo(position: number): void {
    fs.ftruncateSync(this.fd, position);
    this.sizeBytes = position;
    this.offsetIndex.truncateToPosition(position);
    this.rebuildIndexes();
  }

  /** fdatasync of the log, and of the indexes too when `withIndexes` (an inactive segment's last flush). */
  async flush(withIndexes: boolean): Promise<void> {
    if (this.closed) return;
    const flushedBytes = this.unflushedBytes;
    this.flushesInFlight++;
    try {
      const syncs = [fdatasync(this.fd)];
      if (withIndexes) syncs.push(fdatasync(this.offsetIndex.fileDescriptor), fdatasync(this.timeIndex.fileDescriptor));
      await Promise.all(syncs);
      this.unflushedBytes -= flushedBytes;
    } finally {
      this.flushesInFlight--;
      if (this.flushesInFlight === 0 && this.closed) this.closeFiles();
    }
  }

  private flushesInFlight = 0;

  /** Closes the files, once no fdatasync is running on them (a reused descriptor must never be synced by mistake). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushesInFlight === 0) this.closeFiles();
  }

  private closeFiles(): void {
    this.offsetIndex.close();
    this.timeIndex.close();
    fs.closeSync(this.fd);
  }

  /** Closes and removes the segment's files. */
  delete(): void {
    this.close();
    // Unlinking while a descriptor is still open is fine on POSIX: the data goes when the last descriptor closes.
    for (const file of [this.paths.log, this.paths.offsetIndex, this.paths.timeIndex]) fs.rmSync(file, { force: true });
  }
}

