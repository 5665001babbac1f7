/**
 * Encode records into one RecordBatch v2 (layout in record-batch.ts, record
 * grammar in records.ts).
 *
 * Used by the HTTP and WebSocket doors (records arriving as JSON), by
 * compaction (rewriting a batch with a subset of its records: same
 * baseOffset, each record keeping its offset and timestamp, lastOffsetDelta
 * kept from the original), and by tests.
 *
 * On the produce path: sizes are computed first and records written straight
 * into one buffer (the final batch when uncompressed; the compressor's input
 * otherwise), with no per-record buffers.
 *
 * Header fields follow Kafka's MemoryRecordsBuilder: baseTimestamp is the
 * FIRST record's timestamp (not the minimum; a later record may have a
 * negative timestampDelta), maxTimestamp the largest (never below
 * NO_TIMESTAMP), or the log-append time for LogAppendTime batches. Defaults
 * for the producer fields are Kafka's "none": producerId -1, producerEpoch -1,
 * baseSequence -1, partitionLeaderEpoch -1.
 */

import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  CompressionCodec,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_PRODUCER_ID,
  NO_TIMESTAMP,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
} from './record-batch.js';
import { compress } from './compression.js';
import type { RecordHeader } from './records.js';
import { crc32c } from './crc32c.js';
import { FerryError, assert } from '../errors.js';

export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Default: the batch's `now()`. */
  timestamp?: bigint;
  /** Default: the record's index. Must increase from record to record. */
  offsetDelta?: number;
}

export interface BatchOptions {
  baseOffset?: bigint;
  compression?: CompressionCodec;
  partitionLeaderEpoch?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  timestampType?: 'CreateTime' | 'LogAppendTime';
  /** Default: the last record's offsetDelta (0 with no records). Compaction passes the original. */
  lastOffsetDelta?: number;
  /**
   * The maxTimestamp of a LogAppendTime batch. Default: now(). Compaction
   * passes the original batch's maxTimestamp, as Kafka's cleaner does.
   */
  logAppendTime?: bigint;
  /** Milliseconds since the epoch. Default: Date.now(). */
  now?: () => bigint;
}

const NO_PARTITION_LEADER_EPOCH = -1;
const NO_PRODUCER_EPOCH = -1;
const NO_SEQUENCE = -1;
const NULL_LENGTH = -1;
const INT32_MAX = 0x7fffffff;
/** Deltas below this in magnitude zigzag-encode exactly in a double. */
const VARLONG_NUMBER_LIMIT = 2 ** 51;
const VARLONG_NUMBER_LIMIT_BIG = 2n ** 51n;
const VARLONG_NUMBER_FLOOR_BIG = -VARLONG_NUMBER_LIMIT_BIG;

const defaultNow = (): bigint => BigInt(Date.now());

/** One reading of the clock per batch: defaulted timestamps and the log-append time agree. */
function onceClock(now: () => bigint): () => bigint {
  let reading: bigint | undefined;
  return () => (reading ??= now());
}

export function buildBatch(records: readonly RecordInput[], options: BatchOptions = {}): Buffer {
  const codec = options.compression ?? CompressionCodec.None;
  const now = onceClock(options.now ?? defaultNow);
  const plan = planRecords(records, now);
  const recordsBytes = plan.sizes.reduce((sum, size) => sum + size, 0);

  let batch: Buffer;
  if (codec === CompressionCodec.None) {
    batch = allocateBatch(RECORDS_OFFSET + recordsBytes);
    writeRecords(batch, RECORDS_OFFSET, records, plan);
  } else {
    const region = Buffer.allocUnsafe(recordsBytes);
    writeRecords(region, 0, records, plan);
    const compressed = compress(codec, region);
    batch = allocateBatch(RECORDS_OFFSET + compressed.length);
    compressed.copy(batch, RECORDS_OFFSET);
  }

  const logAppendTime = options.timestampType === 'LogAppendTime';
  const lastRecordOffsetDelta = plan.offsetDeltas.length > 0 ? plan.offsetDeltas[plan.offsetDeltas.length - 1]! : 0;
  const lastOffsetDelta = options.lastOffsetDelta ?? lastRecordOffsetDelta;
  assert(
    Number.isInteger(lastOffsetDelta) && lastOffsetDelta >= lastRecordOffsetDelta && lastOffsetDelta <= INT32_MAX,
    `lastOffsetDelta ${lastOffsetDelta} must be an int32 no less than the last record's offsetDelta ${lastRecordOffsetDelta}`,
  );
  const attributes =
    (codec & COMPRESSION_CODEC_MASK) |
    (logAppendTime ? TIMESTAMP_TYPE_MASK : 0) |
    (options.isTransactional ? TRANSACTIONAL_FLAG_MASK : 0) |
    (options.isControl ? CONTROL_FLAG_MASK : 0);

  batch.writeBigInt64BE(options.baseOffset ?? 0n, BASE_OFFSET_OFFSET);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, LENGTH_OFFSET);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  batch.writeBigInt64BE(plan.baseTimestamp, BASE_TIMESTAMP_OFFSET);
  const maxTimestamp = logAppendTime ? (options.logAppendTime ?? now()) : plan.maxTimestamp;
  batch.writeBigInt64BE(maxTimestamp, MAX_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(options.producerId ?? NO_PRODUCER_ID, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(options.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(options.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(records.length, RECORDS_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch, ATTRIBUTES_OFFSET, batch.length), CRC_OFFSET);
  return batch;
}

function allocateBatch(bytes: number): Buffer {
  if (bytes - LOG_OVERHEAD > INT32_MAX) {
    throw new FerryError('MESSAGE_TOO_LARGE', `record batch of ${bytes} bytes does not fit RecordBatch's int32 length`);
  }
  return Buffer.allocUnsafe(bytes);
}

interface RecordPlan {
  /** Per record: bytes including the length prefix. */
  sizes: number[];
  /** Per record: the length prefix's value (bytes after it). */
  bodySizes: number[];
  offsetDeltas: number[];
  timestampDeltas: Array<number | bigint>;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
}

function planRecords(records: readonly RecordInput[], now: () => bigint): RecordPlan {
  const count = records.length;
  const plan: RecordPlan = {
    sizes: new Array<number>(count),
    bodySizes: new Array<number>(count),
    offsetDeltas: new Array<number>(count),
    timestampDeltas: new Array<number | bigint>(count),
    baseTimestamp: NO_TIMESTAMP,
    maxTimestamp: NO_TIMESTAMP,
  };
  let previousOffsetDelta = -1;
  let baseTimestampNumber = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const offsetDelta = record.offsetDelta ?? i;
    if (!(Number.isInteger(offsetDelta) && offsetDelta > previousOffsetDelta && offsetDelta <= INT32_MAX)) {
      // (the message is built only on failure: this loop is the produce path)
      assert(false, `record ${i}: offsetDelta ${offsetDelta} must be an int32 above the previous ${previousOffsetDelta}`);
    }
    previousOffsetDelta = offsetDelta;
    const timestamp = record.timestamp ?? now();
    if (i === 0) {
      plan.baseTimestamp = timestamp;
      baseTimestampNumber = Number(timestamp);
    }
    if (timestamp > plan.maxTimestamp) plan.maxTimestamp = timestamp;
    const timestampDelta = timestampDeltaOf(timestamp, plan.baseTimestamp, baseTimestampNumber);

    const bodySize =
      1 + // attributes
      sizeOfVarlong(timestampDelta) +
      sizeOfVarint(offsetDelta) +
      sizeOfNullableBytes(record.key ?? null) +
      sizeOfNullableBytes(record.value) +
      sizeOfHeaders(record.headers);
    plan.offsetDeltas[i] = offsetDelta;
    plan.timestampDeltas[i] = timestampDelta;
    plan.bodySizes[i] = bodySize;
    plan.sizes[i] = sizeOfVarint(bodySize) + bodySize;
  }
  return plan;
}

function writeRecords(buf: Buffer, start: number, records: readonly RecordInput[], plan: RecordPlan): void {
  let pos = start;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const recordStart = pos;
    pos = writeVarint(buf, pos, plan.bodySizes[i]!);
    buf[pos++] = 0; // attributes: none defined for records
    pos = writeVarlong(buf, pos, plan.timestampDeltas[i]!);
    pos = writeVarint(buf, pos, plan.offsetDeltas[i]!);
    pos = writeNullableBytes(buf, pos, record.key ?? null);
    pos = writeNullableBytes(buf, pos, record.value);
    pos = writeHeaders(buf, pos, record.headers);
    if (pos - recordStart !== plan.sizes[i]) assert(false, `record ${i} wrote ${pos - recordStart} bytes, planned ${plan.sizes[i]}`);
  }
  assert(pos === buf.length, `records end at ${pos}, buffer is ${buf.length} bytes`);
}

function sizeOfHeaders(headers: readonly RecordHeader[] | undefined): number {
  if (headers === undefined) return 1;
  let size = sizeOfVarint(headers.length);
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    size += sizeOfVarint(keyBytes) + keyBytes + sizeOfNullableBytes(header.value);
  }
  return size;
}

function writeHeaders(buf: Buffer, start: number, headers: readonly RecordHeader[] | undefined): number {
  if (headers === undefined) {
    buf[start] = 0;
    return start + 1;
  }
  let pos = writeVarint(buf, start, headers.length);
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    pos = writeVarint(buf, pos, keyBytes);
    pos += buf.write(header.key, pos, keyBytes, 'utf8');
    pos = writeNullableBytes(buf, pos, header.value);
  }
  return pos;
}

function sizeOfNullableBytes(bytes: Buffer | null): number {
  return bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length;
}

function writeNullableBytes(buf: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, pos, NULL_LENGTH);
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos); // TypedArray set: cheaper than Buffer#copy's checks for small values
  return pos + bytes.length;
}

// --- zigzag LEB128 ------------------------------------------------------------

/**
 * timestamp - base in int64 arithmetic (wrapping, as Kafka's Java long does),
 * as a number when its zigzag form is exact in a double. The common case
 * (both timestamps exact doubles, a small delta) stays off BigInt arithmetic.
 */
function timestampDeltaOf(timestamp: bigint, base: bigint, baseNumber: number): number | bigint {
  const timestampNumber = Number(timestamp);
  if (Number.isSafeInteger(timestampNumber) && Number.isSafeInteger(baseNumber)) {
    const delta = timestampNumber - baseNumber;
    if (delta > -VARLONG_NUMBER_LIMIT && delta < VARLONG_NUMBER_LIMIT) return delta;
  }
  const delta = BigInt.asIntN(64, timestamp - base);
  return VARLONG_NUMBER_FLOOR_BIG < delta && delta < VARLONG_NUMBER_LIMIT_BIG ? Number(delta) : delta;
}

function sizeOfUnsigned(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function sizeOfVarint(value: number): number {
  return sizeOfUnsigned(((value << 1) ^ (value >> 31)) >>> 0);
}

function sizeOfVarlong(value: number | bigint): number {
  if (typeof value === 'number') return sizeOfUnsigned(value >= 0 ? value * 2 : -value * 2 - 1);
  let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  let size = 1;
  while (zigzag >= 0x80n) {
    zigzag >>= 7n;
    size++;
  }
  return size;
}

function writeUnsigned(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    buf[pos++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[pos++] = zigzag;
  return pos;
}

function writeVarlong(buf: Buffer, pos: number, value: number | bigint): number {
  if (typeof value === 'number') return writeUnsigned(buf, pos, value >= 0 ? value * 2 : -value * 2 - 1);
  let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  while (zigzag >= 0x80n) {
    buf[pos++] = Number(zigzag & 0x7fn) | 0x80;
    zigzag >>= 7n;
  }
  buf[pos++] = Number(zigzag);
  return pos;
}
