/**
 * Idempotent producer state of one partition: for each producer id, its
 * epoch and the last PRODUCER_BATCHES_RETAINED batches it wrote (sequence
 * range, offsets, timestamp), as Kafka keeps them for producers with up to
 * max.in.flight.requests.per.connection = 5 requests outstanding.
 *
 * PartitionLog asks `check` before writing an append (in call order, so the
 * state it checks against is exactly the log's), and `record`s what it
 * wrote afterwards. The rules, per batch carrying a producer id (>= 0):
 *
 *   epoch below the producer's                         INVALID_PRODUCER_EPOCH
 *   a new epoch of a known producer not at sequence 0  OUT_OF_ORDER_SEQUENCE_NUMBER
 *   same epoch, sequence and last sequence as one of
 *   the retained batches                               duplicate: nothing written,
 *                                                      the original offsets answered
 *   same epoch, first sequence not last + 1            OUT_OF_ORDER_SEQUENCE_NUMBER
 *   unknown producer (never seen, or expired)          any sequence accepted
 *
 * The last rule is Kafka's since KIP-360: a producer whose state was lost to
 * expiration is let back in rather than wedged with UNKNOWN_PRODUCER_ID.
 * Sequences are int32 and wrap from 2^31 - 1 to 0.
 *
 * Batches without a producer id (-1) are not looked at beyond one int32
 * read per batch. Transactions are not implemented: a transactional batch is
 * refused (no coordinator could have begun its transaction), but the entry
 * carries coordinatorEpoch and currentTxnFirstOffset so control batches can be
 * applied here later.
 */

import { FerryError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  CONTROL_FLAG_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  TRANSACTIONAL_FLAG_MASK,
  readInt64AsNumber,
} from './record-batch.js';

/** Batches remembered per producer for duplicate detection: Kafka's max in-flight requests. */
export const PRODUCER_BATCHES_RETAINED = 5;
/** producer.id.expiration.ms: a producer silent this long is forgotten (Kafka's default, one day). */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;
/** Sequence numbers are int32 and wrap from here to 0. */
export const SEQUENCE_MAX = 0x7fffffff;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;

export interface ProducerBatch {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  /** The batch's maxTimestamp as stored (the append time for LogAppendTime topics). */
  timestampMs: number;
}

export interface ProducerEntry {
  producerId: bigint;
  epoch: number;
  /** Oldest first, at most PRODUCER_BATCHES_RETAINED, all of `epoch`. */
  batches: ProducerBatch[];
  lastTimestampMs: number;
  /** Transactions: the coordinator epoch of the last marker; -1 until they exist. */
  coordinatorEpoch: number;
  /** Transactions: first offset of the open transaction; -1 when none. */
  currentTxnFirstOffset: number;
}

/** What a duplicate append answers: the offsets its first delivery got. */
export interface DuplicateAppend {
  firstOffset: number;
  lastOffset: number;
  timestampMs: number;
}

/** An idempotent batch of an append, checked, to be recorded once it is written. */
interface PendingBatch {
  producerId: bigint;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
  /** Where the batch starts in the append's bytes (its offsets are read back after stamping). */
  position: number;
}

/** The outcome of `check`: nothing to do (no producer ids), a duplicate, or batches to record. */
export type ProducerCheck = null | { duplicate: DuplicateAppend } | { pending: PendingBatch[] };

/** Kafka's sequence arithmetic: `sequence + increment`, wrapping past int32 max to 0. */
export function incrementSequence(sequence: number, increment: number): number {
  return sequence > SEQUENCE_MAX - increment ? increment - (SEQUENCE_MAX - sequence) - 1 : sequence + increment;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === SEQUENCE_MAX);
}

export class ProducerStateTable {
  private readonly entries = new Map<bigint, ProducerEntry>();

  constructor(private readonly where: string) {}

  get size(): number {
    return this.entries.size;
  }

  get(producerId: bigint): ProducerEntry | undefined {
    return this.entries.get(producerId);
  }

  /** Every producer, ordered by id (DescribeProducers, snapshots). */
  all(): ProducerEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.producerId < b.producerId ? -1 : a.producerId > b.producerId ? 1 : 0));
  }

  /**
   * Checks an append's batches (already validated whole) against the state,
   * changing nothing. Throws the Kafka error for a fenced epoch or a sequence
   * gap; returns the original offsets when the append is a resend of batches
   * already written. An append mixing a resend with new batches is refused:
   * Kafka clients never send that, and half-writing it would break the
   * append's all-or-nothing rule.
   */
  check(bytes: Buffer): ProducerCheck {
    let pending: PendingBatch[] | null = null;
    let duplicate: DuplicateAppend | null = null;
    let plainBatches = 0;
    for (let at = 0; at < bytes.length; at += bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD) {
      if (bytes.readInt32BE(at + PRODUCER_ID_OFFSET) < 0) {
        plainBatches++; // no producer id: the common case, one read
        continue;
      }
      const batch = this.readPending(bytes, at);
      const progress = pending?.findLast((earlier) => earlier.producerId === batch.producerId);
      const stored = this.entries.get(batch.producerId);
      const resent = progress === undefined ? findBatch(stored, batch) : undefined;
      if (resent) {
        duplicate = duplicate
          ? { firstOffset: Math.min(duplicate.firstOffset, resent.firstOffset), lastOffset: Math.max(duplicate.lastOffset, resent.lastOffset), timestampMs: Math.max(duplicate.timestampMs, resent.timestampMs) }
          : { firstOffset: resent.firstOffset, lastOffset: resent.lastOffset, timestampMs: resent.timestampMs };
        continue;
      }
      const epoch = progress ? progress.epoch : (stored?.epoch ?? NO_PRODUCER_EPOCH);
      const lastSeq = progress ? progress.lastSeq : (stored?.batches.at(-1)?.lastSeq ?? NO_SEQUENCE);
      this.checkSequence(batch, epoch, lastSeq, at);
      (pending ??= []).push(batch);
    }
    if (duplicate) {
      if (pending !== null || plainBatches > 0) {
        throw new FerryError('OUT_OF_ORDER_SEQUENCE_NUMBER', `append to ${this.where} mixes a resend of batches already written with new batches`);
      }
      return { duplicate };
    }
    return pending ? { pending } : null;
  }

  private readPending(bytes: Buffer, at: number): PendingBatch {
    const producerId = bytes.readBigInt64BE(at + PRODUCER_ID_OFFSET);
    const epoch = bytes.readInt16BE(at + PRODUCER_EPOCH_OFFSET);
    const firstSeq = bytes.readInt32BE(at + BASE_SEQUENCE_OFFSET);
    const attributes = bytes.readInt16BE(at + ATTRIBUTES_OFFSET);
    if (epoch < 0) throw new FerryError('INVALID_RECORD', `batch at byte ${at} has producer id ${producerId} but no producer epoch (${epoch})`);
    if (firstSeq < 0) throw new FerryError('INVALID_RECORD', `batch at byte ${at} has producer id ${producerId} but sequence ${firstSeq}`);
    if (attributes & TRANSACTIONAL_FLAG_MASK) {
      throw new FerryError('INVALID_TXN_STATE', `producer ${producerId} sent a transactional batch; this broker has no transaction coordinator`);
    }
    const lastSeq = incrementSequence(firstSeq, bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET));
    return { producerId, epoch, firstSeq, lastSeq, position: at };
  }

  /** Kafka's epoch and sequence rules for one batch against the producer's epoch and last sequence so far. */
  private checkSequence(batch: PendingBatch, epoch: number, lastSeq: number, at: number): void {
    const who = `producer ${batch.producerId} in ${this.where} (batch at byte ${at})`;
    if (batch.epoch < epoch) {
      throw new FerryError('INVALID_PRODUCER_EPOCH', `${who}: epoch ${batch.epoch} is older than the current epoch ${epoch}`);
    }
    if (epoch === NO_PRODUCER_EPOCH) return; // unknown producer: accepted at any sequence (KIP-360)
    if (batch.epoch !== epoch) {
      if (batch.firstSeq !== 0) {
        throw new FerryError('OUT_OF_ORDER_SEQUENCE_NUMBER', `${who}: new epoch ${batch.epoch} (was ${epoch}) must start at sequence 0, not ${batch.firstSeq}`);
      }
      return;
    }
    if (!inSequence(lastSeq, batch.firstSeq)) {
      throw new FerryError('OUT_OF_ORDER_SEQUENCE_NUMBER', `${who}: sequence ${batch.firstSeq} does not follow the last written sequence ${lastSeq} of epoch ${epoch}`);
    }
  }

  /** Records the checked batches once written; `bytes` now carries their assigned offsets and final timestamps. */
  recordWritten(bytes: Buffer, pending: readonly PendingBatch[]): void {
    for (const batch of pending) {
      const firstOffset = readInt64AsNumber(bytes, batch.position + BASE_OFFSET_OFFSET);
      const lastOffset = firstOffset + bytes.readInt32BE(batch.position + LAST_OFFSET_DELTA_OFFSET);
      const timestampMs = readInt64AsNumber(bytes, batch.position + MAX_TIMESTAMP_OFFSET);
      this.record(batch.producerId, batch.epoch, { firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, firstOffset, lastOffset, timestampMs });
    }
  }

  /**
   * Replays one stored batch header (rebuilding state from the log): no
   * checks, the log is the truth. Control batches (transaction markers, not
   * written yet) carry no sequences; they only move epoch and time.
   */
  replay(bytes: Buffer, at: number): void {
    if (bytes.readInt32BE(at + PRODUCER_ID_OFFSET) < 0) return;
    const producerId = bytes.readBigInt64BE(at + PRODUCER_ID_OFFSET);
    const epoch = bytes.readInt16BE(at + PRODUCER_EPOCH_OFFSET);
    const timestampMs = readInt64AsNumber(bytes, at + MAX_TIMESTAMP_OFFSET);
    if (bytes.readInt16BE(at + ATTRIBUTES_OFFSET) & CONTROL_FLAG_MASK) {
      const entry = this.entryFor(producerId, epoch);
      entry.lastTimestampMs = timestampMs;
      return;
    }
    const firstSeq = bytes.readInt32BE(at + BASE_SEQUENCE_OFFSET);
    const lastOffsetDelta = bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    const firstOffset = readInt64AsNumber(bytes, at + BASE_OFFSET_OFFSET);
    this.record(producerId, epoch, { firstSeq, lastSeq: incrementSequence(firstSeq, lastOffsetDelta), firstOffset, lastOffset: firstOffset + lastOffsetDelta, timestampMs });
  }

  private record(producerId: bigint, epoch: number, batch: ProducerBatch): void {
    const entry = this.entryFor(producerId, epoch);
    entry.batches.push(batch);
    if (entry.batches.length > PRODUCER_BATCHES_RETAINED) entry.batches.shift();
    entry.lastTimestampMs = batch.timestampMs;
  }

  /** The producer's entry at `epoch`: created if new; a newer epoch forgets the older epoch's batches. */
  private entryFor(producerId: bigint, epoch: number): ProducerEntry {
    let entry = this.entries.get(producerId);
    if (!entry) {
      entry = { producerId, epoch, batches: [], lastTimestampMs: -1, coordinatorEpoch: -1, currentTxnFirstOffset: -1 };
      this.entries.set(producerId, entry);
    } else if (entry.epoch !== epoch) {
      entry.epoch = epoch;
      entry.batches = [];
    }
    return entry;
  }

  /** Puts back an entry read from a snapshot. */
  restore(entry: ProducerEntry): void {
    this.entries.set(entry.producerId, entry);
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Forgets producers whose last write is `expirationMs` or more before
   * `nowMs` (producer.id.expiration.ms), unless a transaction of theirs is
   * open. Returns how many went.
   */
  expire(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.entries) {
      if (entry.currentTxnFirstOffset >= 0 || nowMs - entry.lastTimestampMs < expirationMs) continue;
      this.entries.delete(producerId);
      removed++;
    }
    return removed;
  }
}

/** The retained batch of the same epoch with exactly this sequence range, if any. */
function findBatch(entry: ProducerEntry | undefined, batch: PendingBatch): ProducerBatch | undefined {
  if (!entry || entry.epoch !== batch.epoch) return undefined;
  return entry.batches.find((kept) => kept.firstSeq === batch.firstSeq && kept.lastSeq === batch.lastSeq);
}
