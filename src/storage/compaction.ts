/**
 * Log compaction (cleanup.policy=compact): keep the latest record for each
 * key, drop tombstones older than delete.retention.ms, never touch the active
 * segment, never change an offset (gaps are legal).
 *
 * Four steps; everything that touches files in bulk runs in the storage
 * pool, so the event loop only exchanges segment objects:
 *   plan     (caller's thread)  which inactive segments, how many records
 *   clean    (pool worker)      pass 1 maps key -> latest offset in the WASM key
 *                               map; pass 2 writes each segment anew into
 *                               `<dir>/.cleaning/`, batches that keep every record
 *                               copied byte for byte, the others rebuilt with the
 *                               survivors (same baseOffset, compression, producer
 *                               fields and lastOffsetDelta)
 *   install  (pool worker)      old index files removed, cleaned files renamed in
 *                               over the old ones, emptied segments deleted
 *   swap     (caller's thread)  old segment objects closed, cleaned ones opened
 *                               (ahead of the swap, one per event-loop turn, when
 *                               the pool runs the task: openCleanedSegments)
 *
 * Installing before the caller swaps is safe because the log serves reads of
 * its inactive segments through descriptors it already holds: a renamed-over
 * or unlinked file stays readable through them, with the in-memory indexes
 * that describe it, until the swap closes them. Nothing else removes or opens
 * inactive segments while a compaction runs (the log refuses retention then).
 * Index files are the exception to "through descriptors": an index opens its
 * path for each write (IndexFile), and after the install that path names the
 * cleaned file. So the plan persists the planned segments' indexes first, on
 * the caller's thread: an inactive segment gains no entries, so none of its
 * indexes writes again (a flush of a segment whose roll-time flush failed
 * may still fdatasync the path: the cleaned file, already durable).
 *
 * Freeing an old segment's file (its extents and cached pages) costs about
 * 0.5 ms per MiB here, in whichever close() or unlink() drops the last
 * reference: 40 ms for 64 MiB, seconds for 1 GiB segments, too long for the
 * event loop. So the worker keeps a descriptor of each old file it replaces
 * (`retiredFds`) and the swap closes those in libuv's thread pool, after the
 * log's own descriptors: the last reference, and the freeing, go there.
 *
 * Crash safety of the install: a restart deletes `.cleaning/`; a segment caught
 * between its log rename and its index renames has no index files and gets
 * them rebuilt on open. Either way every segment holds either its old or its
 * cleaned bytes, both complete and fdatasync'ed.
 *
 * Tombstones: a tombstone that is the latest for its key is kept until the
 * segment holding it was last written more than delete.retention.ms ago (the
 * segment file's mtime, carried over to the cleaned file), so a consumer
 * reading within that window after the delete sees it, whatever timestamp
 * the producer put on it.
 *
 * A segment emptied by cleaning is deleted, except the log's first: its base
 * offset is what keeps the log start offset where it is.
 *
 * Idempotent producers: the last batch each producer wrote is never dropped,
 * even when none of its records survive; it stays as an empty batch (header
 * only: offsets, producer id, epoch and sequences, no records), as Kafka's
 * cleaner keeps it, so producer state rebuilt from the log still knows the
 * producer's epoch and last sequence.
 *
 * Keys are identified by a 128-bit hash (two xxHash64 seeds) in the key map,
 * as Kafka's cleaner identifies them by an MD5 digest. If the records outnumber
 * the map, only a prefix of segments is cleaned this round (records after that
 * prefix are not yet known, so nothing in it may be dropped for them).
 */

import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { syncDirectory } from './file-io.js';
import type { LogConfig } from './log-config.js';
import { LogSegment, type SegmentSettings } from './log-segment.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  COMPRESSION_CODEC_MASK,
  CRC_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  batchCompression,
  batchIsControl,
} from './record-batch.js';
import { crc32c } from './crc32c.js';
import { buildBatch } from './batch-builder.js';
import { decodeBatch, recordsRegion } from './records.js';
import { scanBatches, type BatchHeader } from './segment-scan.js';
import { segmentPaths } from './segment-files.js';
import { KEYMAP_DECISION, wasmCore } from './wasm-core.js';

export const CLEANING_DIR_NAME = '.cleaning';
/** Most keys one compaction round maps: 4 Mi keys is about 128 MiB of table. */
export const COMPACTION_KEYS_MAX = 4 * 1024 * 1024;

export interface CompactionPlan {
  dir: string;
  /** Inactive segments to clean, ascending; the first is the log's first segment (never deleted, see above). */
  baseOffsets: number[];
  nowMs: number;
  deleteRetentionMs: number;
  settings: SegmentSettings;
  /** lastOffset of each idempotent producer's last batch: kept (empty if need be) whatever cleaning decides. */
  producerLastOffsets: number[];
}

export interface CompactionStats {
  segmentsCleaned: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsKept: number;
  tombstonesDropped: number;
  durationMs: number;
  /** worker_threads id of the thread that cleaned: never the caller's. */
  threadId: number;
}

export interface CleanedSegment {
  baseOffset: number;
  sizeBytes: number;
  /** Emptied and deleted by the install: the swap drops the segment. */
  removed: boolean;
}

export interface CompactionOutcome {
  cleaned: CleanedSegment[];
  stats: CompactionStats;
  /** Descriptors of the replaced files, held by the worker so that their last close runs off the event loop (swapInCleanedSegments). */
  retiredFds: number[];
  /** Cleaned segments already opened on the caller's thread (openCleanedSegments), by base offset; absent when the task ran inline. */
  opened?: Map<number, LogSegment>;
}

export function planCompaction(
  dir: string,
  inactive: readonly LogSegment[],
  config: LogConfig,
  settings: SegmentSettings,
  nowMs: number,
  producerLastOffsets: readonly number[] = [],
): CompactionPlan {
  // Normally a no-op (sealing persisted them); see the header for why nothing may be left to write.
  for (const segment of inactive) segment.persistIndexes();
  return { dir, baseOffsets: inactive.map((segment) => segment.baseOffset), nowMs, deleteRetentionMs: config.deleteRetentionMs, settings, producerLastOffsets: [...producerLastOffsets] };
}

/** The work done in the pool: both passes, cleaned segments left in `.cleaning/`. */
export function compactSegments(plan: CompactionPlan): CompactionOutcome {
  const startedMs = Date.now();
  const cleaningDir = path.join(plan.dir, CLEANING_DIR_NAME);
  fs.rmSync(cleaningDir, { recursive: true, force: true });
  fs.mkdirSync(cleaningDir);
  const stats: CompactionStats = { segmentsCleaned: 0, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsKept: 0, tombstonesDropped: 0, durationMs: 0, threadId };

  const { baseOffsets, records } = segmentsThatFit(plan);
  wasmCore.keymapInit(Math.max(1024, Math.min(COMPACTION_KEYS_MAX, records)));
  for (const base of baseOffsets) {
    forEachBatch(plan, base, (header, bytes, at) => {
      if (batchIsControl(bytes, at)) return;
      wasmCore.keymapIndexRecords(recordsRegion(bytes, at), header.recordCount, BigInt(header.baseOffset));
    });
  }

  const producerLastOffsets = new Set(plan.producerLastOffsets);
  const cleaned: CleanedSegment[] = [];
  for (const base of baseOffsets) {
    const source = segmentPaths(plan.dir, base).log;
    const writtenAt = fs.statSync(source).mtime;
    const tombstonesExpired = writtenAt.getTime() < plan.nowMs - plan.deleteRetentionMs;
    // No preallocation: a cleaned segment is never appended to, and is never sealed to give the space back.
    const output = LogSegment.create(cleaningDir, base, { ...plan.settings, preallocateBytes: 0 });
    forEachBatch(plan, base, (header, bytes, at) => {
      stats.bytesRead += header.sizeBytes;
      const kept = cleanBatch(bytes, at, header, tombstonesExpired, stats) ?? (producerLastOffsets.has(header.lastOffset) ? emptiedBatch(bytes, at) : null);
      if (kept) output.append(kept.bytes, kept.start, kept.end);
    });
    output.closeTimeIndexEntry();
    fs.utimesSync(output.paths.log, writtenAt, writtenAt);
    fs.fdatasyncSync(output.fd);
    output.offsetIndex.syncBlocking();
    output.timeIndex.syncBlocking();
    // A cleaned segment left empty is deleted, except the log's first: its base offset holds the log start offset.
    cleaned.push({ baseOffset: base, sizeBytes: output.sizeBytes, removed: output.sizeBytes === 0 && cleaned.length > 0 });
    stats.bytesWritten += output.sizeBytes;
    stats.segmentsCleaned++;
    output.close();
  }
  syncDirectory(cleaningDir);
  const retiredFds = installCleanedSegments(plan.dir, cleaned);
  stats.durationMs = Date.now() - startedMs;
  return { cleaned, stats, retiredFds };
}

/**
 * Puts the cleaned files in place of the old ones (see the header: the log
 * still reads the old ones through its descriptors). Returns a descriptor of
 * every old file replaced or deleted, for the swap to close off the event loop.
 */
function installCleanedSegments(dir: string, cleaned: readonly CleanedSegment[]): number[] {
  const cleaningDir = path.join(dir, CLEANING_DIR_NAME);
  const retiredFds: number[] = [];
  try {
    for (const segment of cleaned) {
      const from = segmentPaths(cleaningDir, segment.baseOffset);
      const to = segmentPaths(dir, segment.baseOffset);
      for (const file of [to.log, to.offsetIndex, to.timeIndex]) retiredFds.push(...holdOpen(file));
      fs.rmSync(to.offsetIndex, { force: true });
      fs.rmSync(to.timeIndex, { force: true });
      if (segment.removed) {
        fs.rmSync(to.log, { force: true });
        continue;
      }
      fs.renameSync(from.log, to.log);
      fs.renameSync(from.offsetIndex, to.offsetIndex);
      fs.renameSync(from.timeIndex, to.timeIndex);
    }
    syncDirectory(dir);
    fs.rmSync(cleaningDir, { recursive: true, force: true });
  } catch (error) {
    closeRetired(retiredFds);
    throw error;
  }
  return retiredFds;
}

/** A read-only descriptor of `file`, or none if it cannot be opened (then its freeing happens wherever its last descriptor closes, as before). */
function holdOpen(file: string): number[] {
  try {
    return [fs.openSync(file, 'r')];
  } catch {
    return [];
  }
}

/** Closes in libuv's thread pool: the close that drops a file's last reference frees its extents and pages there. */
function closeRetired(fds: readonly number[]): void {
  for (const fd of fds) fs.close(fd, ignoreCloseError);
}

function ignoreCloseError(): void {}

interface KeptBatch {
  bytes: Buffer;
  start: number;
  end: number;
}

/** The batch as it should be after cleaning: itself, a rebuilt subset, or null when nothing survives. */
function cleanBatch(bytes: Buffer, at: number, header: BatchHeader, tombstonesExpired: boolean, stats: CompactionStats): KeptBatch | null {
  stats.recordsRead += header.recordCount;
  if (batchIsControl(bytes, at)) {
    stats.recordsKept += header.recordCount;
    return { bytes, start: at, end: at + header.sizeBytes };
  }
  const decisions = wasmCore.keymapSelectLatest(recordsRegion(bytes, at), header.recordCount, BigInt(header.baseOffset));
  if (decisions.every((decision) => decision === KEYMAP_DECISION.KEEP)) {
    stats.recordsKept += header.recordCount;
    return { bytes, start: at, end: at + header.sizeBytes };
  }
  if (!tombstonesExpired && decisions.every((decision) => decision !== KEYMAP_DECISION.DROP)) {
    stats.recordsKept += header.recordCount;
    return { bytes, start: at, end: at + header.sizeBytes };
  }
  const batch = decodeBatch(bytes, at);
  const survivors = batch.records.filter((_, i) => {
    const decision = decisions[i];
    if (decision === KEYMAP_DECISION.KEEP) return true;
    if (decision === KEYMAP_DECISION.KEEP_TOMBSTONE) {
      if (!tombstonesExpired) return true;
      stats.tombstonesDropped++;
    }
    return false;
  });
  stats.recordsKept += survivors.length;
  if (survivors.length === header.recordCount) return { bytes, start: at, end: at + header.sizeBytes };
  if (survivors.length === 0) return null;
  const rebuilt = buildBatch(
    survivors.map((record) => ({ key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp, offsetDelta: Number(record.offset - batch.baseOffset) })),
    {
      baseOffset: batch.baseOffset,
      compression: batchCompression(bytes, at),
      partitionLeaderEpoch: batch.partitionLeaderEpoch,
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      isTransactional: batch.isTransactional,
      timestampType: batch.timestampType,
      logAppendTime: batch.maxTimestamp,
      lastOffsetDelta: Number(batch.lastOffset - batch.baseOffset),
    },
  );
  return { bytes: rebuilt, start: 0, end: rebuilt.length };
}

/**
 * The header of the batch at `at` with its records gone (recordCount 0, no
 * compression): offsets, producer fields and maxTimestamp kept, baseTimestamp
 * set to maxTimestamp, as Kafka writes the batches its cleaner empties.
 */
export function emptiedBatch(bytes: Buffer, at: number): KeptBatch {
  const header = Buffer.from(bytes.subarray(at, at + BATCH_HEADER_BYTES));
  header.writeInt32BE(BATCH_HEADER_BYTES - LOG_OVERHEAD, LENGTH_OFFSET);
  header.writeInt16BE(header.readInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_CODEC_MASK, ATTRIBUTES_OFFSET);
  header.writeBigInt64BE(header.readBigInt64BE(MAX_TIMESTAMP_OFFSET), BASE_TIMESTAMP_OFFSET);
  header.writeInt32BE(0, RECORDS_COUNT_OFFSET);
  header.writeUInt32BE(crc32c(header, ATTRIBUTES_OFFSET, BATCH_HEADER_BYTES), CRC_OFFSET);
  return { bytes: header, start: 0, end: header.length };
}

/** Walks every batch of a segment, each whole in memory and its CRC checked: compaction never copies a corrupt batch. */
function forEachBatch(plan: CompactionPlan, baseOffset: number, visit: (header: BatchHeader, bytes: Buffer, at: number) => void): void {
  const fd = fs.openSync(segmentPaths(plan.dir, baseOffset).log, 'r');
  try {
    const endPosition = fs.fstatSync(fd).size;
    const result = scanBatches({ fd, fromPosition: 0, endPosition, verify: true, batchBytesMax: plan.settings.batchBytesMax }, (header, bytes, at) => {
      visit(header, bytes, at);
      return true;
    });
    if (result.stop !== 'end') throw new Error(`compaction of segment ${baseOffset} in ${plan.dir} stopped: ${result.reason}`);
  } finally {
    fs.closeSync(fd);
  }
}

function recordsIn(plan: CompactionPlan, baseOffset: number): number {
  const fd = fs.openSync(segmentPaths(plan.dir, baseOffset).log, 'r');
  try {
    let count = 0;
    scanBatches({ fd, fromPosition: 0, endPosition: fs.fstatSync(fd).size, verify: false, batchBytesMax: plan.settings.batchBytesMax }, (header) => {
      count += header.recordCount;
      return true;
    });
    return count;
  } finally {
    fs.closeSync(fd);
  }
}

/** The longest prefix of the planned segments whose records fit the key map, and how many records it holds. */
function segmentsThatFit(plan: CompactionPlan): { baseOffsets: number[]; records: number } {
  const chosen: number[] = [];
  let records = 0;
  for (const base of plan.baseOffsets) {
    const inSegment = recordsIn(plan, base);
    if (records + inSegment > COMPACTION_KEYS_MAX && chosen.length > 0) break;
    records += inSegment;
    chosen.push(base);
  }
  return { baseOffsets: chosen, records };
}

/**
 * Opens the installed segments on this thread ahead of the swap, yielding to
 * the event loop between segments (opening one reads its index files), so
 * that swapInCleanedSegments only exchanges objects. On failure nothing stays
 * open: the swap will not run.
 */
export async function openCleanedSegments(outcome: CompactionOutcome, dir: string, settings: SegmentSettings): Promise<CompactionOutcome> {
  const opened = new Map<number, LogSegment>();
  try {
    for (const segment of outcome.cleaned) {
      if (segment.removed) continue;
      await yieldToEventLoop();
      opened.set(segment.baseOffset, LogSegment.open(dir, segment.baseOffset, settings));
    }
  } catch (error) {
    for (const segment of opened.values()) segment.close();
    closeRetired(outcome.retiredFds);
    throw error;
  }
  return { ...outcome, opened };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Exchanges each cleaned segment's object for the installed one (opened now
 * unless openCleanedSegments did it already); a removed segment is dropped.
 * The old descriptors close here, the retired ones after them in libuv's
 * thread pool. Returns the new segment list.
 */
export function swapInCleanedSegments(dir: string, segments: readonly LogSegment[], outcome: CompactionOutcome, settings: SegmentSettings): LogSegment[] {
  const byBase = new Map(outcome.cleaned.map((segment) => [segment.baseOffset, segment]));
  const result: LogSegment[] = [];
  for (const segment of segments) {
    const cleaned = byBase.get(segment.baseOffset);
    if (!cleaned) {
      result.push(segment);
      continue;
    }
    segment.close();
    if (!cleaned.removed) result.push(outcome.opened?.get(segment.baseOffset) ?? LogSegment.open(dir, segment.baseOffset, settings));
  }
  for (const opened of outcome.opened?.values() ?? []) if (!result.includes(opened)) opened.close();
  closeRetired(outcome.retiredFds);
  return result;
}
