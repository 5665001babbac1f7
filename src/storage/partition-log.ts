/**
 * A partition's log: an ordered list of segments in one directory, the last
 * of them active. This is the storage engine's public face:
 *
 *   append   validate batches, assign offsets in place, write, honour flush policy
 *   read     whole batches from an offset, bytes as stored (the zero-copy path)
 *   offsets  log start, log end, offset for a timestamp
 *   upkeep   segment roll, retention, DeleteRecords, compaction (in the pool)
 *   restart  checkpoint, recovery after an unclean stop
 *   producers idempotent producer state: checked before each append is
 *            written, snapshotted at roll, before retention and at clean
 *            close (producer-snapshot-lifecycle.ts), rebuilt on open from the
 *            newest snapshot and the batch headers after it
 *   replicas leader epochs stamped and cached (leader-epoch-cache.ts),
 *            follower appends of the leader's batches as they are
 *            (follower-batches.ts), truncation of a divergent tail or of
 *            everything (Kafka's truncateTo, truncateFullyAndStartAt)
 *
 * Appends, follower appends, truncations and leader-epoch starts run in call
 * order (each waits for the appends before it), each append all or nothing:
 * most are validated and written synchronously; one holding a large
 * compressed batch is validated in the pool first, and those behind it wait
 * their turn. Waiting for an fdatasync is the other asynchronous part, and
 * one fdatasync serves every append waiting on it (group commit).
 */

import fs from 'node:fs';
import path from 'node:path';
import { FerryError, assert } from '../errors.js';
import { needsPoolValidation, validateBatches, type ValidatedBatches, type ValidationRules } from './batch-validator.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { crc32c } from './crc32c.js';
import type { LogConfig } from './log-config.js';
import { LogSegment, type FileRange, type SegmentSettings } from './log-segment.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  TIMESTAMP_TYPE_MASK,
  readInt64AsNumber,
  writeInt64FromNumber,
} from './record-batch.js';
import { syncDirectoryAsync } from './file-io.js';
import { LeaderEpochCache, type EpochEndOffset } from './leader-epoch-cache.js';
import type { EpochEntry } from './leader-epoch-checkpoint.js';
import { rebuildLeaderEpochs } from './leader-epoch-rebuild.js';
import { decodeBatch, type DecodedRecord } from './records.js';
import { CLEANING_DIR_NAME, type CompactionOutcome, type CompactionStats, planCompaction, swapInCleanedSegments } from './compaction.js';
import { scanBatches } from './segment-scan.js';
import { checkFollowerBatches } from './follower-batches.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, ProducerStateTable, type DuplicateAppend, type ProducerEntry } from './producer-state.js';
import { decodeSnapshot } from './producer-snapshot.js';
import { ProducerSnapshotLifecycle } from './producer-snapshot-lifecycle.js';
import { replayProducerState, type ProducerReplayTask, type ReplayRange } from './producer-replay.js';
import { segmentBaseOffsets } from './segment-files.js';
import { sharedStoragePool, unwrapValidation, type StorageTasks } from './storage-pool.js';

export interface PartitionLogOptions {
  dir: string;
  config: LogConfig;
  /** Where recovery scans and compaction run; the process-wide piscina pool by default. */
  tasks?: StorageTasks;
  /** Wall clock in milliseconds; tests move it. */
  clock?: () => number;
  /** Stamped into every appended batch's partitionLeaderEpoch until a startLeaderEpoch's turn changes it; 0 by default. */
  leaderEpoch?: number;
  /** producer.id.expiration.ms: idempotent producers silent this long are forgotten. */
  producerIdExpirationMs?: number;
}

export interface AppendResult {
  firstOffset: number;
  lastOffset: number;
  /** The broker's timestamp for LogAppendTime topics, -1 for CreateTime. */
  logAppendTimeMs: number;
  logStartOffset: number;
  recordCount: number;
  /**
   * A producer's resend of batches already in the log: nothing was written,
   * and the offsets (and LogAppendTime) are those of the first delivery.
   */
  duplicate?: boolean;
}

export interface ReadOptions {
  /** Serve nothing at or after this offset (the high watermark); the log end by default. */
  maxOffset?: number;
  /** Return the first batch even if it is larger than maxBytes (Kafka's KIP-74 rule); default true. */
  minOneBatch?: boolean;
}

export interface ReadResult {
  /** Whole record batches exactly as stored; may start before `fromOffset` (the batch holding it). */
  bytes: Buffer;
  /** Where the next read should start. */
  nextOffset: number;
  logStartOffset: number;
  logEndOffset: number;
}

export interface FileRangeResult {
  /** Whole batches as a pinned file range; null when there is nothing to read. */
  range: FileRange | null;
  nextOffset: number;
  logStartOffset: number;
  logEndOffset: number;
}

export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
}

export interface RecoveryReport {
  segmentsScanned: number;
  truncatedBytes: number;
  segmentsDeleted: number;
  reasons: string[];
}

export type AppendListener = (log: PartitionLog) => void;

interface WrittenAppend {
  result: AppendResult;
  /** The flush policy wants an fdatasync before this append is acknowledged. */
  mustFlush: boolean;
}

/** Offsets are JS numbers: exact to 2^53, which no log reaches. */
const OFFSET_MAX = Number.MAX_SAFE_INTEGER;
/** Most bytes one read returns (beyond a first batch larger than that): bounds a fetch's memory. */
export const READ_BYTES_MAX = 64 * 1024 * 1024;

export class PartitionLog {
  private segments: LogSegment[] = [];
  private logStart = 0;
  private recoveryPoint = 0;
  private unflushedRecords = 0;
  private flushInFlight: Promise<void> | null = null;
  private flushQueued: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private compaction: Promise<CompactionStats> | null = null;
  /** Set when close() starts: from then on no append, read or compaction is accepted. */
  private closed = false;
  private closing: Promise<void> | null = null;
  /** A segment file was created or deleted since the directory was last fsync'ed. */
  private directoryDirty = false;
  /** Set while a truncation cuts the log: compaction and retention stand aside. */
  private truncating = false;
  /** Truncations so far: a flush that began before one must not move the recovery point past the cut. */
  private truncations = 0;
  /** Appends queued behind a pool validation, and the end of that queue. */
  private appendsWaiting = 0;
  private appendTail: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<AppendListener>();
  private readonly tasks: StorageTasks;
  private readonly clock: () => number;
  /** Stamped into each batch a leader append writes (startLeaderEpoch). */
  private leaderEpoch: number;
  private readonly epochs: LeaderEpochCache;
  private readonly producers: ProducerStateTable;
  private readonly producerIdExpirationMs: number;
  private readonly producerSnapshots: ProducerSnapshotLifecycle;
  config: LogConfig;

  private constructor(readonly dir: string, options: PartitionLogOptions) {
    this.config = options.config;
    this.tasks = options.tasks ?? sharedStoragePool();
    this.clock = options.clock ?? Date.now;
    this.leaderEpoch = options.leaderEpoch ?? 0;
    this.epochs = new LeaderEpochCache(dir);
    this.producers = new ProducerStateTable(dir);
    this.producerIdExpirationMs = options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    this.producerSnapshots = new ProducerSnapshotLifecycle(dir, () => this.segments[0]?.baseOffset ?? 0);
  }

  /** Opens (creating if needed) the log in `options.dir`, recovering it first if it was not closed cleanly. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const log = new PartitionLog(options.dir, options);
    await log.load();
    return log;
  }

  /** What the last open found and repaired. */
  recovery: RecoveryReport = { segmentsScanned: 0, truncatedBytes: 0, segmentsDeleted: 0, reasons: [] };

  private get segmentSettings(): SegmentSettings {
    return {
      indexIntervalBytes: this.config.indexIntervalBytes,
      batchBytesMax: Math.max(this.config.maxMessageBytes, this.config.segmentBytes),
      preallocateBytes: this.config.preallocate ? this.config.segmentBytes : 0,
    };
  }

  private async load(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.rmSync(path.join(this.dir, CLEANING_DIR_NAME), { recursive: true, force: true });
    const checkpoint = readCheckpoint(this.dir);
    let baseOffsets = segmentBaseOffsets(fs.readdirSync(this.dir));
    const recovering = !checkpoint.cleanShutdown && baseOffsets.length > 0;
    if (recovering) baseOffsets = await this.recover(baseOffsets, checkpoint.recoveryPoint);
    this.segments = baseOffsets.map((base) => LogSegment.open(this.dir, base, this.segmentSettings));
    if (this.segments.length === 0) this.segments.push(LogSegment.create(this.dir, checkpoint.logStartOffset, this.segmentSettings));
    this.logStart = Math.max(checkpoint.logStartOffset, this.segments[0]!.baseOffset);
    this.logStart = Math.min(this.logStart, this.logEndOffset);
    this.loadLeaderEpochs(recovering ? checkpoint.recoveryPoint : null);
    this.recoveryPoint = this.logEndOffset;
    this.saveCheckpoint(false);
    await this.loadProducerState();
  }

  /**
   * The leader-epoch cache as of the recovered log: the file's entries, those
   * from `recoveredFrom` on (an unclean stop: the file covers every batch
   * below the recovery point, since an epoch is written to it before its
   * first batch) or all of them (no readable file) rebuilt from batch
   * headers; then cut to the log's range. The file is rewritten only when
   * that may have changed something.
   */
  private loadLeaderEpochs(recoveredFrom: number | null): void {
    const rebuildFrom = this.epochs.load() ? recoveredFrom : this.segments[0]!.baseOffset;
    if (rebuildFrom !== null) rebuildLeaderEpochs(this.epochs, this.segments, Math.min(rebuildFrom, this.logEndOffset), this.segmentSettings.batchBytesMax);
    const cutEnd = this.epochs.truncateFromEnd(this.logEndOffset);
    const cutStart = this.epochs.truncateFromStart(this.logStart);
    if (rebuildFrom !== null || cutEnd || cutStart) this.epochs.persist();
  }

  /**
   * Producer state as of the log end: the newest readable snapshot at or
   * below it, then every batch header after the snapshot's offset. After a
   * clean close the snapshot is at the log end and nothing is replayed; after
   * an unclean stop the replay covers what was written since the last roll,
   * and runs in the storage pool.
   */
  private async loadProducerState(reasons: string[] = this.recovery.reasons): Promise<void> {
    const logEnd = this.logEndOffset;
    const snapshot = this.producerSnapshots.loadNewest(logEnd, reasons);
    const ranges = this.replayRanges(snapshot?.offset ?? this.segments[0]!.baseOffset);
    const entries = ranges.length === 0 ? (snapshot?.entries ?? []) : await this.replayInPool({
      dir: this.dir,
      snapshotOffset: snapshot?.offset ?? null,
      ranges,
      endOffset: logEnd,
      batchBytesMax: this.segmentSettings.batchBytesMax,
    });
    this.producers.clear();
    for (const entry of entries) this.producers.restore(entry);
    this.producers.expire(this.clock(), this.producerIdExpirationMs);
  }

  private async replayInPool(task: ProducerReplayTask): Promise<ProducerEntry[]> {
    const answer = this.tasks.replayProducers ? await this.tasks.replayProducers(task) : replayProducerState(task);
    const bytes = Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength);
    return decodeSnapshot(bytes, `replay of ${this.dir}`).entries;
  }

  /** Where the batches at or after `fromOffset` lie: per non-empty segment, the first batch's position. */
  private replayRanges(fromOffset: number): ReplayRange[] {
    const ranges: ReplayRange[] = [];
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const position = segment.baseOffset >= fromOffset ? 0 : segment.findBatchStart(fromOffset)?.position;
      if (position === undefined || position >= segment.sizeBytes) continue;
      ranges.push({ baseOffset: segment.baseOffset, fromPosition: position, endPosition: segment.sizeBytes });
    }
    return ranges;
  }

  /**
   * Validates every segment that may hold unflushed data (those reaching past
   * the recovery point), in the pool. The first torn or corrupt batch ends the
   * log: its segment is cut there and every later segment is deleted.
   * Returns the base offsets of the segments that remain.
   */
  private async recover(baseOffsets: number[], recoveryPoint: number): Promise<number[]> {
    const firstUnflushed = Math.max(0, baseOffsets.findLastIndex((base) => base <= recoveryPoint));
    for (let i = firstUnflushed; i < baseOffsets.length; i++) {
      const outcome = await this.tasks.recoverSegment(this.dir, baseOffsets[i]!, this.segmentSettings);
      this.recovery.segmentsScanned++;
      this.recovery.truncatedBytes += outcome.truncatedBytes;
      if (outcome.reason === null) continue;
      this.recovery.reasons.push(`segment ${outcome.baseOffset}: ${outcome.reason}; cut at byte ${outcome.validBytes}`);
      for (const later of baseOffsets.slice(i + 1)) {
        LogSegment.deleteFiles(this.dir, later);
        this.recovery.segmentsDeleted++;
      }
      return baseOffsets.slice(0, i + 1);
    }
    return baseOffsets;
  }

  get logStartOffset(): number {
    return this.logStart;
  }

  /** Offset the next appended record gets. */
  get logEndOffset(): number {
    return this.activeSegment.nextOffset;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  /** Every offset below this one has been fdatasync'ed. */
  get flushedOffset(): number {
    return this.recoveryPoint;
  }

  segmentBaseOffsets(): number[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  private get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  /** The newest record timestamp in the log (-1 when empty): ListOffsets' MAX_TIMESTAMP is the first record carrying it. */
  get maxTimestamp(): number {
    let newest = -1;
    for (const segment of this.segments) newest = Math.max(newest, segment.maxTimestamp);
    return newest;
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Appends a produce request's record batches. They are validated whole
   * first; on any error nothing is written. Offsets are assigned by rewriting
   * each batch's baseOffset in `bytes` itself, so the caller's buffer is what
   * reaches the page cache: it must not change until the promise settles.
   * Resolves once the flush policy is satisfied.
   *
   * Appends are written in call order. Most are validated and written
   * synchronously; a large compressed batch is validated in the pool, and the
   * appends behind it wait their turn.
   */
  async append(bytes: Buffer): Promise<AppendResult> {
    this.assertOpen();
    const rules = this.validationRules;
    const inPool = needsPoolValidation(bytes);
    if (this.appendsWaiting === 0 && !inPool) return this.settle(this.writeValidated(bytes, validateBatches(bytes, rules)));
    // Started now, awaited in turn; handled from the start so a failure never goes unhandled meanwhile.
    const validation = inPool ? this.validateInPool(bytes, rules) : null;
    validation?.catch(() => undefined);
    return this.settle(await this.inTurn(async () => this.writeValidated(bytes, validation ? await validation : validateBatches(bytes, rules))));
  }

  /**
   * A follower's append of the leader's batches exactly as the leader wrote
   * them: offsets, leader epochs, timestamps and CRCs are kept, nothing is
   * stamped (Kafka's appendAsFollower). Batches are checked for structure and
   * CRC only (follower-batches.ts); they must start at the log end and follow
   * each other, else OFFSET_OUT_OF_RANGE and nothing is written. Producer
   * state learns their sequences unchecked, so this replica deduplicates
   * resends once it leads. In call order with `append`, under the same flush
   * policy, rolls and listeners.
   */
  async appendAsFollower(bytes: Buffer): Promise<AppendResult> {
    this.assertOpen();
    if (this.appendsWaiting === 0) return this.settle(this.writeFollower(bytes));
    return this.settle(await this.inTurn(() => this.writeFollower(bytes)));
  }

  /** Waits for the append's fdatasync when the flush policy wants one. */
  private async settle(written: WrittenAppend): Promise<AppendResult> {
    if (written.mustFlush) await this.flush();
    return written.result;
  }

  /**
   * Runs `work` after every append, truncation and other turn queued before
   * it; while it waits or runs, later appends queue behind it.
   */
  private async inTurn<T>(work: () => T | Promise<T>): Promise<T> {
    this.appendsWaiting++;
    const turn = this.appendTail.then(work);
    this.appendTail = turn.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await turn;
    } finally {
      this.appendsWaiting--;
    }
  }

  private async validateInPool(bytes: Buffer, rules: ValidationRules): Promise<ValidatedBatches> {
    let answer;
    try {
      answer = await this.tasks.validate(bytes, rules);
    } catch (error) {
      throw new FerryError('KAFKA_STORAGE_ERROR', `validation in the storage pool failed: ${(error as Error).message}`);
    }
    return unwrapValidation(answer);
  }

  private get validationRules(): ValidationRules {
    return { maxMessageBytes: this.config.maxMessageBytes, requireKeys: this.config.cleanupCompact };
  }

  /** The synchronous half of an append: producer checks, stamp, write, account. */
  private writeValidated(bytes: Buffer, validated: ValidatedBatches): WrittenAppend {
    this.assertOpen();
    const producerCheck = this.producers.check(bytes);
    if (producerCheck !== null && 'duplicate' in producerCheck) return this.duplicateAppend(producerCheck.duplicate);
    const segmentsBefore = this.segments.length;
    const firstOffset = this.logEndOffset;
    const lastOffset = firstOffset + validated.offsetCount - 1;
    if (lastOffset > OFFSET_MAX) throw new FerryError('KAFKA_STORAGE_ERROR', `offset ${lastOffset} exceeds ${OFFSET_MAX}`);
    const logAppendTimeMs = this.config.timestampType === 'LogAppendTime' ? this.clock() : -1;
    this.stampBatches(bytes, firstOffset, validated, logAppendTimeMs);
    this.writeWithEpochs(bytes);
    if (producerCheck !== null) this.producers.recordWritten(bytes, producerCheck.pending);
    // A roll inside this append: snapshot now that the state includes the batches written before it.
    if (this.segments.length !== segmentsBefore) this.snapshotProducersInBackground();
    const result = { firstOffset, lastOffset, logAppendTimeMs, logStartOffset: this.logStart, recordCount: validated.recordCount };
    return { result, mustFlush: this.afterWrite(validated.recordCount) };
  }

  /** The synchronous half of a follower append: check, write, then producer state from what was written. */
  private writeFollower(bytes: Buffer): WrittenAppend {
    this.assertOpen();
    const firstOffset = this.logEndOffset;
    const checked = checkFollowerBatches(bytes, { expectedFirstOffset: firstOffset, gapsAllowed: this.config.cleanupCompact, batchBytesMax: this.segmentSettings.batchBytesMax, where: this.dir });
    if (checked.lastOffset > OFFSET_MAX) throw new FerryError('KAFKA_STORAGE_ERROR', `offset ${checked.lastOffset} exceeds ${OFFSET_MAX}`);
    const segmentsBefore = this.segments.length;
    this.writeWithEpochs(bytes);
    for (let at = 0; at < bytes.length; at += bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD) this.producers.replay(bytes, at);
    if (this.segments.length !== segmentsBefore) this.snapshotProducersInBackground();
    const result = { firstOffset: checked.firstOffset, lastOffset: checked.lastOffset, logAppendTimeMs: -1, logStartOffset: this.logStart, recordCount: checked.recordCount };
    return { result, mustFlush: this.afterWrite(checked.recordCount) };
  }

  /** What every write does after the bytes are in: listeners told, flush policy consulted. True when it wants an fdatasync now. */
  private afterWrite(recordCount: number): boolean {
    this.unflushedRecords += recordCount;
    for (const listener of this.listeners) listener(this);
    const mustFlush = this.unflushedRecords >= this.config.flushMessages;
    if (!mustFlush) this.armFlushTimer();
    return mustFlush;
  }

  /**
   * writeBatches, with the leader epochs the batches start recorded first:
   * durably before any batch of a new epoch is written, so after a crash the
   * file covers every batch below the recovery point. A failed write takes
   * the new entries back.
   */
  private writeWithEpochs(bytes: Buffer): void {
    const newEpochs = this.assignLeaderEpochs(bytes);
    try {
      this.writeBatches(bytes);
    } catch (error) {
      if (newEpochs && this.epochs.truncateFromEnd(this.logEndOffset)) this.persistEpochsAfterFailure();
      throw error;
    }
  }

  /** Adds an entry for each batch starting an epoch newer than the latest, and writes the file; false when none did. */
  private assignLeaderEpochs(bytes: Buffer): boolean {
    let assigned = false;
    for (let at = 0; at < bytes.length; at += bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD) {
      assigned = this.epochs.assign(bytes.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET), readInt64AsNumber(bytes, at + BASE_OFFSET_OFFSET)) || assigned;
    }
    if (!assigned) return false;
    try {
      this.epochs.persist();
    } catch (error) {
      this.epochs.truncateFromEnd(this.logEndOffset);
      throw new FerryError('KAFKA_STORAGE_ERROR', `leader epoch checkpoint of ${this.dir} not written, nothing appended: ${(error as Error).message}`);
    }
    return true;
  }

  /**
   * Best effort, the append already failing: the entries in memory are right;
   * a file left with an entry at the old log end is cut by the next open, or
   * overwritten by the next epoch change.
   */
  private persistEpochsAfterFailure(): void {
    try {
      this.epochs.persist();
    } catch {
      // already failing the append with the write's own error
    }
  }

  /**
   * A resend answered with its first delivery's offsets. If that delivery is
   * not on disk yet and the flush policy makes appends wait for one, the
   * resend waits too: its answer promises no less than the original's.
   */
  private duplicateAppend(original: DuplicateAppend): WrittenAppend {
    const logAppendTimeMs = this.config.timestampType === 'LogAppendTime' ? original.timestampMs : -1;
    const result: AppendResult = { firstOffset: original.firstOffset, lastOffset: original.lastOffset, logAppendTimeMs, logStartOffset: this.logStart, recordCount: 0, duplicate: true };
    return { result, mustFlush: original.lastOffset >= this.recoveryPoint && Number.isFinite(this.config.flushMessages) };
  }

  /**
   * Rewrites baseOffset and leader epoch (outside the CRC); and, as Kafka
   * does, the timestamp type and maxTimestamp the topic dictates (inside the
   * CRC: recomputed, only when they change).
   */
  private stampBatches(bytes: Buffer, firstOffset: number, validated: ValidatedBatches, logAppendTimeMs: number): void {
    let at = 0;
    let offset = firstOffset;
    for (let i = 0; at < bytes.length; i++) {
      writeInt64FromNumber(bytes, offset, at + BASE_OFFSET_OFFSET);
      bytes.writeInt32BE(this.leaderEpoch, at + PARTITION_LEADER_EPOCH_OFFSET);
      const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
      const attributes = bytes.readInt16BE(at + ATTRIBUTES_OFFSET);
      const wantAttributes = logAppendTimeMs >= 0 ? attributes | TIMESTAMP_TYPE_MASK : attributes & ~TIMESTAMP_TYPE_MASK;
      const wantMaxTimestamp = logAppendTimeMs >= 0 ? logAppendTimeMs : validated.maxTimestamps[i]!;
      if (wantAttributes !== attributes || readInt64AsNumber(bytes, at + MAX_TIMESTAMP_OFFSET) !== wantMaxTimestamp) {
        bytes.writeInt16BE(wantAttributes, at + ATTRIBUTES_OFFSET);
        writeInt64FromNumber(bytes, wantMaxTimestamp, at + MAX_TIMESTAMP_OFFSET);
        bytes.writeUInt32BE(crc32c(bytes, at + ATTRIBUTES_OFFSET, at + size), at + CRC_OFFSET);
      }
      offset += bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1;
      at += size;
    }
  }

  /**
   * Writes batches to the active segment, rolling first where a batch would
   * not fit. All or nothing: a failed write or roll rolls the log back to
   * where it was before this request.
   */
  private writeBatches(bytes: Buffer): void {
    const segmentsBefore = this.segments.length;
    const mark = this.activeSegment.mark();
    try {
      let runStart = 0;
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
        const lastOffset = readInt64AsNumber(bytes, at + BASE_OFFSET_OFFSET) + bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
        const maxTimestamp = readInt64AsNumber(bytes, at + MAX_TIMESTAMP_OFFSET);
        if (this.shouldRoll(this.activeSegment, at - runStart, size, lastOffset, maxTimestamp)) {
          if (at > runStart) this.activeSegment.append(bytes, runStart, at);
          this.rollSegment();
          runStart = at;
        }
        at += size;
      }
      this.activeSegment.append(bytes, runStart, at);
    } catch (error) {
      while (this.segments.length > segmentsBefore) this.segments.pop()!.delete();
      this.activeSegment.rollBackTo(mark);
      throw new FerryError('KAFKA_STORAGE_ERROR', `append to ${this.dir} failed, nothing of it kept: ${(error as Error).message}`);
    }
  }

  /** Kafka's roll rules: size, segment.ms measured in record time from the first batch, index room. */
  private shouldRoll(active: LogSegment, pendingBytes: number, batchBytes: number, lastOffset: number, incomingMaxTimestamp: number): boolean {
    const bytesBefore = active.sizeBytes + pendingBytes; // pending: this request's batches not yet written to it
    if (bytesBefore === 0) return false;
    if (bytesBefore + batchBytes > this.config.segmentBytes) return true;
    if (active.rollTimestampMs >= 0 && incomingMaxTimestamp - active.rollTimestampMs > this.config.segmentMs) return true;
    return !active.canHold(lastOffset, this.config.segmentIndexBytes);
  }

  /**
   * Starts a new active segment at the log end. The old one is flushed in the
   * background, and once it and everything before it is on disk the recovery
   * point moves past it, as Kafka's roll does: a crash then rescans only the
   * segments written since.
   */
  roll(): void {
    if (this.rollSegment()) this.snapshotProducersInBackground();
  }

  /** The roll itself; false when the active segment is empty (nothing to roll). */
  private rollSegment(): boolean {
    const old = this.activeSegment;
    if (old.isEmpty) return false;
    const created = LogSegment.create(this.dir, old.nextOffset, this.segmentSettings);
    this.segments.push(created);
    this.directoryDirty = true;
    old.seal();
    void this.flushRolled(old, created.baseOffset).catch(() => undefined); // a failure leaves unflushedBytes set: the next flush retries
    return true;
  }

  // --- leader epochs -----------------------------------------------------------------------

  /**
   * This replica leads in `epoch` from now on: leader appends stamp it into
   * each batch. Runs in turn, after every append, follower append and
   * truncation queued before it (the caller has stopped fetching, but a
   * follower append may still be in flight), so the epoch starts after their
   * batches; appends issued after the call are stamped with it and come after
   * it. A newer epoch than the cache's latest starts at the log end then
   * (Kafka assigns it when the broker becomes leader), so a follower asking
   * where the previous epoch ends gets an answer before the first append; the
   * latest epoch again changes only the stamp. An older epoch than the latest
   * is a caller's bug, checked in turn against what the queue left.
   */
  /**
   * Resolves once every append, follower append and truncation queued before
   * the call has been written. A broker that stops leading waits for this
   * before it follows, so that a leader append still queued (a large batch
   * validated in the pool) lands before the follower's truncation, which then
   * removes it, instead of after, where it would fork the log.
   */
  async appendsSettled(): Promise<void> {
    await this.inTurn(() => undefined);
  }

  async startLeaderEpoch(epoch: number): Promise<void> {
    this.assertOpen();
    assert(Number.isSafeInteger(epoch) && epoch >= 0, `leader epoch ${epoch} of ${this.dir} is not a non-negative integer`);
    await this.inTurn(() => this.recordLeaderEpoch(epoch));
  }

  /** startLeaderEpoch's turn: the entry written durably before the stamp changes. */
  private recordLeaderEpoch(epoch: number): void {
    this.assertOpen();
    assert(epoch >= this.epochs.latestEpoch, `leader epoch ${epoch} of ${this.dir} is older than its latest epoch ${this.epochs.latestEpoch}`);
    if (this.epochs.assign(epoch, this.logEndOffset)) {
      try {
        this.epochs.persist();
      } catch (error) {
        this.epochs.truncateFromEnd(this.logEndOffset);
        throw new FerryError('KAFKA_STORAGE_ERROR', `leader epoch ${epoch} of ${this.dir} not recorded: ${(error as Error).message}`);
      }
    }
    this.leaderEpoch = epoch;
  }

  /** The newest leader epoch the log knows of (-1 when none). */
  get latestLeaderEpoch(): number {
    return this.epochs.latestEpoch;
  }

  /** Where `epoch` ends in this log (OffsetsForLeaderEpoch), as LeaderEpochCache.endOffsetFor. */
  endOffsetForLeaderEpoch(epoch: number): EpochEndOffset {
    this.assertOpen();
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /** The (epoch, startOffset) entries, oldest first (tests and tools). */
  leaderEpochEntries(): EpochEntry[] {
    return this.epochs.all();
  }

  /** The log start moved up: epochs wholly below it go, the one holding it starts there (Kafka's truncateFromStart). */
  private clampLeaderEpochsToStart(): void {
    if (this.epochs.truncateFromStart(this.logStart)) this.epochs.persist();
  }

  // --- producer state ----------------------------------------------------------------------

  /** The idempotent producers this partition knows, by id (DescribeProducers). */
  producerEntries(): ProducerEntry[] {
    this.assertOpen();
    return this.producers.all();
  }

  /**
   * Forgets producers silent for producer.id.expiration.ms (the log manager
   * calls this periodically, as Kafka's producer.id.expiration.check.interval.ms).
   */
  expireProducers(): number {
    this.assertOpen();
    return this.producers.expire(this.clock(), this.producerIdExpirationMs);
  }

  /**
   * Snapshot of the producer state at the log end, taken at every roll,
   * producers or not: it bounds what an unclean restart replays to the
   * segments written since.
   */
  private snapshotProducersInBackground(): void {
    this.producerSnapshots.writeInBackground(this.logEndOffset, this.producers.all());
  }

  private async flushRolled(old: LogSegment, upTo: number): Promise<void> {
    const truncationsBefore = this.truncations;
    await old.flush(true);
    await syncDirectoryAsync(this.dir);
    const index = this.segments.indexOf(old);
    const rollStands = index >= 0 && this.segments[index + 1]?.baseOffset === upTo && this.truncations === truncationsBefore;
    const earlierFlushed = rollStands && this.segments.slice(0, index + 1).every((segment) => segment.unflushedBytes === 0);
    if (earlierFlushed) this.recoveryPoint = Math.max(this.recoveryPoint, upTo);
  }

  /**
   * Whole batches from the one holding `fromOffset`, up to `maxBytes`.
   * Throws OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset].
   */
  read(fromOffset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
    const bounds = this.readBounds(fromOffset, maxBytes, options);
    const answer = { bytes: Buffer.alloc(0), nextOffset: fromOffset, logStartOffset: this.logStart, logEndOffset: bounds.logEnd };
    if (fromOffset >= bounds.maxOffset) return answer;
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      const read = this.segments[i]!.read(fromOffset, bounds.maxBytes, bounds.maxOffset, bounds.minOneBatch);
      if (read === null) continue; // everything at or after fromOffset in this segment was compacted away
      return { ...answer, bytes: read.bytes, nextOffset: Math.max(read.nextOffset, fromOffset) };
    }
    return answer;
  }

  /** The checks and limits `read` and `readFileRange` share. */
  private readBounds(fromOffset: number, maxBytes: number, options: ReadOptions): { logEnd: number; maxOffset: number; maxBytes: number; minOneBatch: boolean } {
    this.assertOpen();
    const logEnd = this.logEndOffset;
    if (fromOffset < this.logStart || fromOffset > logEnd) {
      throw new FerryError('OFFSET_OUT_OF_RANGE', `offset ${fromOffset} is outside the log [${this.logStart}, ${logEnd}] of ${this.dir}`);
    }
    return {
      logEnd,
      maxOffset: Math.min(options.maxOffset ?? logEnd, logEnd),
      maxBytes: Math.max(0, Math.min(maxBytes, READ_BYTES_MAX)),
      minOneBatch: options.minOneBatch ?? true,
    };
  }

  /**
   * What `read` would return, as a pinned range of a segment file instead of
   * bytes: the protocol layer sends it with sendfile(2) straight from the page
   * cache (native.sendfile) and then calls `range.release()`. `range` is null
   * when there is nothing to send.
   */
  readFileRange(fromOffset: number, maxBytes: number, options: ReadOptions = {}): FileRangeResult {
    const bounds = this.readBounds(fromOffset, maxBytes, options);
    const answer: FileRangeResult = { range: null, nextOffset: fromOffset, logStartOffset: this.logStart, logEndOffset: bounds.logEnd };
    if (fromOffset >= bounds.maxOffset) return answer;
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const found = segment.locate(fromOffset, bounds.maxBytes, bounds.maxOffset, bounds.minOneBatch);
      if (found === null) continue;
      const range = found.sizeBytes > 0 ? segment.lease(found.position, found.sizeBytes) : null;
      return { ...answer, range, nextOffset: Math.max(found.nextOffset, fromOffset) };
    }
    return answer;
  }

  /** Decoded records from `fromOffset` (records before it in the first batch skipped), for the JSON doors. */
  readRecords(fromOffset: number, maxBytes: number, options: ReadOptions = {}): { records: DecodedRecord[]; nextOffset: number } {
    const result = this.read(fromOffset, maxBytes, options);
    const records: DecodedRecord[] = [];
    const maxOffset = BigInt(options.maxOffset ?? result.logEndOffset);
    let at = 0;
    while (at < result.bytes.length) {
      const batch = decodeBatch(result.bytes, at);
      if (!batch.isControl) {
        for (const record of batch.records) if (record.offset >= BigInt(fromOffset) && record.offset < maxOffset) records.push(record);
      }
      at += result.bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    }
    return { records, nextOffset: result.nextOffset };
  }

  /** Index of the segment whose range holds `offset` (binary search on base offsets). */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    let found = 0;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  /**
   * The first record with timestamp >= `timestampMs` (ListOffsets), or null
   * when every record is older. Segments are skipped by their newest
   * timestamp, the time index narrows the scan, and only the one batch that
   * holds the answer is decoded.
   */
  offsetForTimestamp(timestampMs: number): { offset: number; timestamp: number } | null {
    this.assertOpen();
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestampMs) continue;
      const from = Math.max(segment.timeIndex.scanStartFor(timestampMs), this.logStart);
      const start = segment.findBatchStart(from);
      if (!start) continue;
      let answer: { offset: number; timestamp: number } | null = null;
      scanBatches({ fd: segment.fd, fromPosition: start.position, endPosition: segment.sizeBytes, verify: false, batchBytesMax: Number.MAX_SAFE_INTEGER }, (header, bytes, at) => {
        if (header.maxTimestamp < timestampMs) return true;
        const whole = header.sizeBytes <= bytes.length - at ? bytes : segment.readBatchAt(header.position, header.sizeBytes);
        const batch = decodeBatch(whole, whole === bytes ? at : 0);
        const record = batch.records.find((r) => Number(r.timestamp) >= timestampMs && Number(r.offset) >= this.logStart);
        if (record) answer = { offset: Number(record.offset), timestamp: Number(record.timestamp) };
        return answer === null;
      });
      if (answer) return answer;
    }
    return null;
  }

  // --- truncation (replication) -------------------------------------------------------------

  /**
   * Removes every batch at or after `offset` (Kafka's Log.truncateTo: a
   * follower cutting a tail that diverged from its leader's). Nothing to do
   * when `offset` is at or past the log end; below the log start the log is
   * emptied and starts at `offset` (truncateFullyAndStartAt). Otherwise the
   * segments based above `offset` are deleted and the one holding it is cut
   * at the first batch whose last offset is >= `offset`: an `offset` inside a
   * batch takes that whole batch, and the log end becomes its base offset.
   * Then the recovery point and checkpoint, the leader-epoch cache (entries
   * from the new end on) and the producer state (the newest snapshot at or
   * below the new end, plus a replay; newer snapshots deleted) follow the new
   * end, and the cut is fdatasync'ed so a crash cannot bring the tail back.
   * Runs in turn after the appends before it; later ones continue from the new end.
   */
  async truncateTo(offset: number): Promise<void> {
    this.assertOpen();
    assert(Number.isSafeInteger(offset) && offset >= 0, `truncateTo(${offset}) of ${this.dir}: not an offset`);
    await this.inTurn(async () => {
      this.assertOpen();
      if (offset >= this.logEndOffset) return;
      if (offset < this.logStart) return this.exclusively(() => this.startAfresh(offset));
      return this.exclusively(async () => {
        const deletedSegments = this.cutTail(offset);
        await this.syncCut(deletedSegments);
        await this.loadProducerState([]);
      });
    });
  }

  /**
   * Deletes every segment, producer snapshot and leader epoch and starts an
   * empty log at `offset` (log start = log end = offset): Kafka's
   * truncateFullyAndStartAt, for a follower whose fetch offset is below its
   * leader's log start. Runs in turn after the appends before it.
   */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.assertOpen();
    assert(Number.isSafeInteger(offset) && offset >= 0, `truncateFullyAndStartAt(${offset}) of ${this.dir}: not an offset`);
    await this.inTurn(async () => {
      this.assertOpen();
      await this.exclusively(() => this.startAfresh(offset));
    });
  }

  /** Runs `work` with no compaction, retention or background snapshot write in progress, and none starting. */
  private async exclusively(work: () => Promise<void>): Promise<void> {
    await this.producerSnapshots.backgroundWritesSettled();
    while (this.compaction !== null) await this.compaction.catch(() => undefined);
    this.truncating = true;
    this.truncations++;
    try {
      await work();
    } finally {
      this.truncating = false;
    }
  }

  /**
   * The synchronous cut of truncateTo: checkpoint lowered first (a crash from
   * here on rescans from the cut), segments deleted, the holding one cut,
   * epochs dropped. Returns how many segments were deleted.
   */
  private cutTail(offset: number): number {
    this.recoveryPoint = Math.min(this.recoveryPoint, offset);
    this.saveCheckpoint(false);
    let deleted = 0;
    while (this.segments.length > 1 && this.activeSegment.baseOffset > offset) {
      this.segments.pop()!.delete();
      deleted++;
    }
    this.activeSegment.truncateTo(offset);
    const newEnd = this.logEndOffset;
    this.logStart = Math.min(this.logStart, newEnd);
    this.recoveryPoint = Math.min(this.recoveryPoint, newEnd);
    this.saveCheckpoint(false);
    if (this.epochs.truncateFromEnd(newEnd)) this.epochs.persist();
    return deleted;
  }

  /** Makes the cut durable: the cut file's new size, and the deleted files' names gone. */
  private async syncCut(deletedSegments: number): Promise<void> {
    await this.activeSegment.flush(true);
    if (deletedSegments > 0) await syncDirectoryAsync(this.dir);
  }

  /** truncateFullyAndStartAt's work: the checkpoint names the new start before any file goes. */
  private async startAfresh(offset: number): Promise<void> {
    this.logStart = offset;
    this.recoveryPoint = offset;
    this.saveCheckpoint(false);
    for (const segment of this.segments.splice(0)) segment.delete();
    this.segments.push(LogSegment.create(this.dir, offset, this.segmentSettings)); // on failure the log has no segment: it must be closed and reopened
    this.producerSnapshots.deleteAll();
    this.producers.clear();
    this.epochs.clear();
    this.epochs.persist();
    await syncDirectoryAsync(this.dir);
  }

  /**
   * DeleteRecords: every offset below `offset` becomes unreadable at once,
   * durably; the segments wholly below it go with the next retention pass.
   */
  deleteRecordsBefore(offset: number): number {
    this.assertOpen();
    if (offset > this.logEndOffset || offset < 0) {
      throw new FerryError('OFFSET_OUT_OF_RANGE', `cannot delete records before ${offset}: log is [${this.logStart}, ${this.logEndOffset}]`);
    }
    if (offset > this.logStart) {
      this.logStart = offset;
      this.saveCheckpoint(false);
      this.clampLeaderEpochsToStart();
    }
    return this.logStart;
  }

  /**
   * Deletes whole segments: those wholly below the log start offset, and with
   * cleanup.policy=delete those older than retention.ms or beyond retention.bytes.
   * An expired active segment is rolled first so it can go too, as Kafka does.
   */
  enforceRetention(): RetentionResult {
    this.assertOpen();
    const result: RetentionResult = { deletedSegments: 0, deletedBytes: 0 };
    if (this.compaction !== null || this.truncating) return result; // compaction owns the inactive segments until it swaps them; truncation cuts them
    const nowMs = this.clock();
    const { retentionMs, retentionBytes, cleanupDelete } = this.config;
    const expired = (segment: LogSegment): boolean => cleanupDelete && retentionMs >= 0 && segment.maxTimestamp >= 0 && nowMs - segment.maxTimestamp > retentionMs;
    if (!this.activeSegment.isEmpty && expired(this.activeSegment)) this.roll();
    let excessBytes = cleanupDelete && retentionBytes >= 0 ? this.sizeBytes - retentionBytes : 0;
    let snapshotTaken = false;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const next = this.segments[1]!;
      const belowStart = next.baseOffset <= this.logStart;
      const overSize = excessBytes > 0 && excessBytes >= oldest.sizeBytes;
      if (!belowStart && !overSize && !expired(oldest)) break;
      // Producers outlive their batches (Kafka since KIP-360): their state must not need the deleted segments to be rebuilt.
      if (!snapshotTaken) this.producerSnapshots.writeNow(this.logEndOffset, this.producers.all());
      snapshotTaken = true;
      this.segments.shift();
      oldest.delete();
      this.directoryDirty = true;
      excessBytes -= oldest.sizeBytes;
      result.deletedSegments++;
      result.deletedBytes += oldest.sizeBytes;
    }
    if (this.segments[0]!.baseOffset > this.logStart) {
      this.logStart = this.segments[0]!.baseOffset;
      this.saveCheckpoint(false);
      this.clampLeaderEpochsToStart();
    }
    if (result.deletedSegments > 0) this.producerSnapshots.prune();
    return result;
  }

  /**
   * Compacts the inactive segments in the storage pool (cleanup.policy=compact):
   * the latest record per key stays, tombstones go after delete.retention.ms,
   * offsets never change. The active segment is never touched.
   */
  async compact(): Promise<CompactionStats | null> {
    this.assertOpen();
    if (!this.config.cleanupCompact || this.compaction !== null || this.truncating || this.segments.length < 2) return null;
    this.compaction = this.runCompaction().finally(() => {
      this.compaction = null;
    });
    return this.compaction;
  }

  private async runCompaction(): Promise<CompactionStats> {
    const producerLastOffsets = this.producers.all().flatMap((entry) => entry.batches.at(-1)?.lastOffset ?? []);
    const plan = planCompaction(this.dir, this.segments.slice(0, -1), this.config, this.segmentSettings, this.clock(), producerLastOffsets);
    const outcome: CompactionOutcome = await this.tasks.compact(plan);
    this.segments = swapInCleanedSegments(this.dir, this.segments, outcome, this.segmentSettings);
    return outcome.stats;
  }

  /**
   * fdatasync of everything appended so far. Group commit: while one sync runs,
   * every caller waits for the next one, which starts after all their writes.
   */
  flush(): Promise<void> {
    // A queued round has not started yet, so it will cover this caller's writes too. Joining it
    // (rather than starting a round of one's own in the gap after the last round ended) is what
    // keeps group commit fair under sustained load.
    if (this.flushQueued !== null) return this.flushQueued;
    if (this.flushInFlight === null) {
      this.flushInFlight = this.runFlush().finally(() => {
        this.flushInFlight = null;
      });
      return this.flushInFlight;
    }
    this.flushQueued ??= this.flushInFlight
      .catch(() => undefined)
      .then(() => {
        this.flushQueued = null;
        return this.flush();
      });
    return this.flushQueued;
  }

  /** fdatasync rounds run so far (a metric; group commit keeps it far below the append count). */
  flushCount = 0;

  private async runFlush(): Promise<void> {
    this.flushCount++;
    this.disarmFlushTimer();
    const target = this.logEndOffset;
    const truncationsBefore = this.truncations;
    const records = this.unflushedRecords;
    const active = this.activeSegment;
    const syncDirectory = this.directoryDirty;
    this.directoryDirty = false;
    const dirty = this.segments.filter((segment) => segment.unflushedBytes > 0 || segment === active);
    try {
      await Promise.all(dirty.map((segment) => segment.flush(segment !== active)));
      // New segment files exist durably only once their directory entry does.
      if (syncDirectory) await syncDirectoryAsync(this.dir);
    } catch (error) {
      this.directoryDirty ||= syncDirectory;
      throw new FerryError('KAFKA_STORAGE_ERROR', `fdatasync in ${this.dir} failed: ${(error as Error).message}`);
    }
    this.unflushedRecords -= records;
    if (this.truncations === truncationsBefore) this.recoveryPoint = Math.max(this.recoveryPoint, target);
  }

  private armFlushTimer(): void {
    if (this.flushTimer !== null || !Number.isFinite(this.config.flushMs)) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      if (!this.closed) void this.flush().catch(() => undefined);
    }, this.config.flushMs);
    this.flushTimer.unref();
  }

  private disarmFlushTimer(): void {
    if (this.flushTimer === null) return;
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  /** Persists the recovery point and log start (periodically, and on close with the clean flag). */
  saveCheckpoint(cleanShutdown: boolean): void {
    writeCheckpoint(this.dir, { logStartOffset: this.logStart, recoveryPoint: this.recoveryPoint, cleanShutdown });
  }

  /**
   * Refuses new work, waits for appends and compaction under way, flushes
   * everything, marks the shutdown clean and closes the files.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    this.closed = true;
    await this.appendTail;
    await this.compaction?.catch(() => undefined);
    await this.producerSnapshots.backgroundWritesSettled();
    this.disarmFlushTimer();
    this.activeSegment.seal();
    await this.flush();
    await this.activeSegment.flush(true);
    // At the log end, even with no producers: the next open replays nothing. Before the clean flag.
    this.producerSnapshots.writeNow(this.logEndOffset, this.producers.all());
    this.saveCheckpoint(true);
    for (const segment of this.segments) segment.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new FerryError('KAFKA_STORAGE_ERROR', `log ${this.dir} is closed`);
  }
}
