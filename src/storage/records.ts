/**
 * Decoded view of RecordBatch v2 records: what the JSON doors show and what
 * compaction walks. The zero-copy fetch path never comes here.
 *
 * Inside a batch, after the header (see record-batch.ts), `recordCount`
 * records follow, compressed as a whole when attributes say so:
 *
 *   Record =>
 *     length          varint   bytes after this field
 *     attributes      int8     unused, 0
 *     timestampDelta  varlong  from the batch's baseTimestamp
 *     offsetDelta     varint   from the batch's baseOffset
 *     keyLength       varint   -1 for a null key
 *     key             bytes
 *     valueLength     varint   -1 for a null value (a tombstone)
 *     value           bytes
 *     headerCount     varint
 *     Header =>
 *       keyLength     varint   UTF-8 string, never null
 *       key           bytes
 *       valueLength   varint   -1 for null
 *       value         bytes
 *
 * varint and varlong are zigzag-encoded LEB128 (protobuf's sint32/sint64).
 * Keys and values are views into the input buffer (or into the decompressed
 * records region), not copies.
 *
 * Every read is bounds-checked; malformed input throws CORRUPT_MESSAGE naming
 * the byte position, never a RangeError, and nothing is allocated in
 * proportion to a count or length before the bytes backing it are known to
 * exist. The batch CRC is not checked here: batches are validated on append
 * and on recovery, and callers that read untrusted bytes validate first.
 */

import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  CompressionCodec,
} from './record-batch.js';
import { DECOMPRESSED_BYTES_MAX_DEFAULT, decompress } from './compression.js';
import { FerryError } from '../errors.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  partitionLeaderEpoch: number;
  attributes: number;
  compression: CompressionCodec;
  isControl: boolean;
  isTransactional: boolean;
  timestampType: 'CreateTime' | 'LogAppendTime';
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: DecodedRecord[];
}

/** length, attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount: one byte each at least. */
export const RECORD_BYTES_MIN = 7;
/** keyLength and valueLength of a header: one byte each at least. */
const HEADER_BYTES_MIN = 2;
const VARINT_BYTES_MAX = 5;
const VARLONG_BYTES_MAX = 10;
/** Below 2^52 a zigzag varlong decodes exactly in a double; above, BigInt takes over. */
const VARLONG_NUMBER_LIMIT = 2 ** 52;
const NULL_LENGTH = -1;
const TIMESTAMP_WRAP_BELOW = -(2n ** 62n);
const TIMESTAMP_WRAP_ABOVE = 2n ** 62n;

function corrupt(message: string): FerryError {
  return new FerryError('CORRUPT_MESSAGE', message);
}

/**
 * Reads the record grammar from buf[pos, end). Error positions are byte
 * indexes into `buf`, which `context` names.
 */
class RecordCursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
    readonly context: string,
  ) {}

  fail(what: string, at: number = this.pos): FerryError {
    return corrupt(`${what} at byte ${at} of ${this.context}`);
  }

  int8(what: string): number {
    if (this.pos >= this.end) throw this.fail(`${what} runs past the end`);
    return this.buf.readInt8(this.pos++);
  }

  /** Zigzag varint, at most 5 bytes, as Kafka's ByteUtils.readVarint. */
  varint(what: string): number {
    const buf = this.buf;
    const start = this.pos;
    let raw = 0;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.pos >= this.end) throw this.fail(`${what} varint runs past the end`, start);
      const byte = buf[this.pos++]!;
      raw |= (byte & 0x7f) << (7 * i);
      if ((byte & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
    }
    throw this.fail(`${what} varint longer than ${VARINT_BYTES_MAX} bytes`, start);
  }

  /** Zigzag varlong, at most 10 bytes: a number when exact, else a bigint. */
  varlong(what: string): number | bigint {
    const buf = this.buf;
    const start = this.pos;
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
      if (this.pos >= this.end) throw this.fail(`${what} varlong runs past the end`, start);
      const byte = buf[this.pos++]!;
      raw += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (raw < VARLONG_NUMBER_LIMIT) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
        return this.varlongBig(start, i + 1);
      }
      scale *= 128;
    }
    throw this.fail(`${what} varlong longer than ${VARLONG_BYTES_MAX} bytes`, start);
  }

  private varlongBig(start: number, byteCount: number): bigint {
    let raw = 0n;
    for (let i = byteCount - 1; i >= 0; i--) raw = (raw << 7n) | BigInt(this.buf[start + i]! & 0x7f);
    raw = BigInt.asUintN(64, raw);
    return BigInt.asIntN(64, (raw >> 1n) ^ -(raw & 1n));
  }

  /** A length-prefixed byte field; -1 is null, other negatives are corrupt. */
  nullableBytes(what: string): Buffer | null {
    const lengthAt = this.pos;
    const length = this.varint(what); // `what` is a constant: no string built per record
    if (length === NULL_LENGTH) return null;
    return this.take(length, what, lengthAt);
  }

  take(length: number, what: string, lengthAt: number): Buffer {
    this.checkLength(length, what, lengthAt);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  /** A string field (Kafka decodes invalid UTF-8 with replacement characters, as this does). */
  utf8(length: number, what: string, lengthAt: number): string {
    this.checkLength(length, what, lengthAt);
    const text = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }

  private checkLength(length: number, what: string, lengthAt: number): void {
    if (length < 0) throw this.fail(`negative ${what} length ${length}`, lengthAt);
    if (length > this.end - this.pos) {
      throw this.fail(`${what} length ${length} runs past the end (${this.end - this.pos} bytes left)`, lengthAt);
    }
  }
}

interface BatchHeader {
  at: number;
  size: number;
  attributes: number;
  compression: CompressionCodec;
  recordCount: number;
}

/** Check the header of the batch at `at` is whole and sane; returns what decoding needs. */
function readBatchHeader(buf: Buffer, at: number): BatchHeader {
  if (!Number.isInteger(at) || at < 0 || at + LOG_OVERHEAD > buf.length) {
    throw corrupt(`record batch at byte ${at} is truncated: ${buf.length - at} bytes, the log overhead alone is ${LOG_OVERHEAD}`);
  }
  const size = buf.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
  if (size < BATCH_HEADER_BYTES) {
    throw corrupt(`record batch at byte ${at} declares ${size} bytes, less than its ${BATCH_HEADER_BYTES}-byte header`);
  }
  if (at + size > buf.length) {
    throw corrupt(`record batch at byte ${at} declares ${size} bytes but only ${buf.length - at} are present`);
  }
  const magic = buf.readInt8(at + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) {
    throw corrupt(`record batch at byte ${at} has magic ${magic}, expected ${CURRENT_MAGIC}`);
  }
  const attributes = buf.readInt16BE(at + ATTRIBUTES_OFFSET);
  const recordCount = buf.readInt32BE(at + RECORDS_COUNT_OFFSET);
  if (recordCount < 0) throw corrupt(`record batch at byte ${at} has negative record count ${recordCount}`);
  return { at, size, attributes, compression: (attributes & COMPRESSION_CODEC_MASK) as CompressionCodec, recordCount };
}

function regionOf(buf: Buffer, header: BatchHeader, decompressedBytesMax: number): Buffer {
  const compressed = buf.subarray(header.at + RECORDS_OFFSET, header.at + header.size);
  return decompress(header.compression, compressed, decompressedBytesMax);
}

/**
 * The records bytes of the batch at buf[at..], decompressed if needed: a view
 * into `buf` when uncompressed, a new buffer otherwise.
 */
export function recordsRegion(buf: Buffer, at = 0, decompressedBytesMax: number = DECOMPRESSED_BYTES_MAX_DEFAULT): Buffer {
  return regionOf(buf, readBatchHeader(buf, at), decompressedBytesMax);
}

/** Decode the one batch at buf[at..]. */
export function decodeBatch(buf: Buffer, at = 0, decompressedBytesMax: number = DECOMPRESSED_BYTES_MAX_DEFAULT): DecodedBatch {
  const header = readBatchHeader(buf, at);
  const attributes = header.attributes;
  const baseOffset = buf.readBigInt64BE(at + BASE_OFFSET_OFFSET);
  const baseTimestamp = buf.readBigInt64BE(at + BASE_TIMESTAMP_OFFSET);
  const maxTimestamp = buf.readBigInt64BE(at + MAX_TIMESTAMP_OFFSET);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const cursor = header.compression === CompressionCodec.None
    ? new RecordCursor(buf, at + RECORDS_OFFSET, at + header.size, `buffer (batch at byte ${at})`)
    : recordCursorOverRegion(regionOf(buf, header, decompressedBytesMax), at);
  const records = decodeRecords(cursor, header.recordCount, baseOffset, logAppendTime ? maxTimestamp : baseTimestamp, logAppendTime);
  return {
    baseOffset,
    lastOffset: baseOffset + BigInt(buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET)),
    partitionLeaderEpoch: buf.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET),
    attributes,
    compression: header.compression,
    isControl: (attributes & CONTROL_FLAG_MASK) !== 0,
    isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
    baseTimestamp,
    maxTimestamp,
    producerId: buf.readBigInt64BE(at + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(at + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(at + BASE_SEQUENCE_OFFSET),
    records,
  };
}

function recordCursorOverRegion(region: Buffer, at: number): RecordCursor {
  return new RecordCursor(region, 0, region.length, `decompressed records of batch at byte ${at}`);
}

/**
 * Decode every whole batch in `buf`, in order. A partial batch at the end (a
 * fetch response may be cut mid-batch) is ignored; a length that cannot be a
 * batch at all is corrupt.
 */
export function decodeBatches(buf: Buffer, decompressedBytesMax: number = DECOMPRESSED_BYTES_MAX_DEFAULT): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  let at = 0;
  while (at + LOG_OVERHEAD <= buf.length) {
    const size = buf.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_BYTES) {
      throw corrupt(`record batch at byte ${at} declares ${size} bytes, less than its ${BATCH_HEADER_BYTES}-byte header`);
    }
    if (at + size > buf.length) break;
    batches.push(decodeBatch(buf, at, decompressedBytesMax));
    at += size;
  }
  return batches;
}

/**
 * With LogAppendTime every record's timestamp is the batch's maxTimestamp
 * (Kafka's DefaultRecordBatch rule); `timestampBase` is then that value and
 * deltas are read but ignored.
 */
function decodeRecords(
  cursor: RecordCursor,
  recordCount: number,
  baseOffset: bigint,
  timestampBase: bigint,
  logAppendTime: boolean,
): DecodedRecord[] {
  if (recordCount > (cursor.end - cursor.pos) / RECORD_BYTES_MIN) {
    throw cursor.fail(`record count ${recordCount} cannot fit in ${cursor.end - cursor.pos} bytes`, cursor.pos);
  }
  // A delta kept as a number (|delta| < 2^52) can only leave int64 from a base this close to the edge.
  const timestampMayWrap = timestampBase < TIMESTAMP_WRAP_BELOW || timestampBase > TIMESTAMP_WRAP_ABOVE;
  const records = new Array<DecodedRecord>(recordCount);
  for (let i = 0; i < recordCount; i++) {
    records[i] = decodeRecord(cursor, baseOffset, timestampBase, logAppendTime, timestampMayWrap);
  }
  if (cursor.pos !== cursor.end) {
    throw cursor.fail(`${cursor.end - cursor.pos} bytes left over after ${recordCount} records`);
  }
  return records;
}

function decodeRecord(
  cursor: RecordCursor,
  baseOffset: bigint,
  timestampBase: bigint,
  logAppendTime: boolean,
  timestampMayWrap: boolean,
): DecodedRecord {
  const lengthAt = cursor.pos;
  const length = cursor.varint('record length');
  if (length < 0 || length > cursor.end - cursor.pos) {
    throw cursor.fail(`record length ${length} runs past the end (${cursor.end - cursor.pos} bytes left)`, lengthAt);
  }
  const recordEnd = cursor.pos + length;
  const outerEnd = cursor.end;
  cursor.end = recordEnd; // fields may not run into the next record
  cursor.int8('record attributes');
  const timestampDelta = cursor.varlong('record timestampDelta');
  const offsetDelta = cursor.varint('record offsetDelta');
  const key = cursor.nullableBytes('record key');
  const value = cursor.nullableBytes('record value');
  const headers = decodeHeaders(cursor);
  if (cursor.pos !== recordEnd) {
    throw cursor.fail(`record declares ${length} bytes but its fields end ${recordEnd - cursor.pos} bytes early`, lengthAt);
  }
  cursor.end = outerEnd;
  let timestamp = timestampBase;
  if (!logAppendTime && timestampDelta !== 0) {
    // int64 arithmetic, wrapping as Kafka's Java long addition does.
    if (typeof timestampDelta === 'bigint') timestamp = BigInt.asIntN(64, timestamp + timestampDelta);
    else if (timestampMayWrap) timestamp = BigInt.asIntN(64, timestamp + BigInt(timestampDelta));
    else timestamp += BigInt(timestampDelta);
  }
  return { offset: baseOffset + BigInt(offsetDelta), timestamp, key, value, headers };
}

function decodeHeaders(cursor: RecordCursor): RecordHeader[] {
  const countAt = cursor.pos;
  const count = cursor.varint('header count');
  if (count < 0) throw cursor.fail(`negative header count ${count}`, countAt);
  if (count > (cursor.end - cursor.pos) / HEADER_BYTES_MIN) {
    throw cursor.fail(`header count ${count} cannot fit in the ${cursor.end - cursor.pos} bytes left`, countAt);
  }
  const headers = new Array<RecordHeader>(count);
  for (let i = 0; i < count; i++) {
    const keyLengthAt = cursor.pos;
    const key = cursor.utf8(cursor.varint('header key length'), 'header key', keyLengthAt);
    headers[i] = { key, value: cursor.nullableBytes('header value') };
  }
  return headers;
}
