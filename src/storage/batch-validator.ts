/**
 * Validation of record batches arriving from a producer, before anything of
 * them reaches disk. A produce request's records blob may hold several
 * batches; all of them are checked, and any failure rejects the whole blob
 * with the Kafka error a client expects:
 *
 *   header shorter than 61 bytes, length past the end      CORRUPT_MESSAGE
 *   magic 0 or 1 (pre-0.11 message sets)                   UNSUPPORTED_FOR_MESSAGE_FORMAT
 *   other magic, CRC32C mismatch, malformed record,
 *   undecompressable payload                               CORRUPT_MESSAGE
 *   batch larger than max.message.bytes                    MESSAGE_TOO_LARGE
 *   no records, offset deltas or count inconsistent,
 *   control batch from a client, null key when compacted   INVALID_RECORD
 *
 * As Kafka's LogValidator does, every record is walked (in the WASM core),
 * compressed batches after decompression, and the batch's maxTimestamp is
 * computed from the records rather than trusted: the caller writes it back.
 * The CRC runs on the caller's bytes (native SSE4.2 when built).
 *
 * Large compressed batches are validated in the storage pool (see
 * `needsPoolValidation`): decompressing them would stall the event loop.
 */

import { FerryError } from '../errors.js';
import { crc32c } from './crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
} from './record-batch.js';
import { recordsRegion } from './records.js';
import { WASM_BATCH_ERRORS, WASM_CHECK, batchErrorName, wasmCore } from './wasm-core.js';

export interface ValidationRules {
  maxMessageBytes: number;
  /** Compacted topics need a key on every record. */
  requireKeys: boolean;
}

export interface ValidatedBatches {
  batchCount: number;
  recordCount: number;
  /** Offsets the batches take: the sum of lastOffsetDelta + 1. */
  offsetCount: number;
  /** Each batch's largest record timestamp, computed from its records. */
  maxTimestamps: number[];
}

/** A compressed batch larger than this is decompressed in the pool, not on the caller's thread. */
export const INLINE_DECOMPRESSION_BYTES_MAX = 64 * 1024;

/** Whether validating `bytes` means decompressing a large batch (so it belongs in the pool). */
export function needsPoolValidation(bytes: Buffer): boolean {
  let at = 0;
  while (at + BATCH_HEADER_BYTES <= bytes.length) {
    const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size > INLINE_DECOMPRESSION_BYTES_MAX && (bytes.readInt16BE(at + ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK) !== 0) return true;
    if (size < BATCH_HEADER_BYTES) return false;
    at += size;
  }
  return false;
}

export function validateBatches(bytes: Buffer, rules: ValidationRules): ValidatedBatches {
  if (bytes.length === 0) throw new FerryError('CORRUPT_MESSAGE', 'empty record set');
  const validated: ValidatedBatches = { batchCount: 0, recordCount: 0, offsetCount: 0, maxTimestamps: [] };
  let at = 0;
  while (at < bytes.length) {
    const size = validateOne(bytes, at, rules, validated);
    validated.batchCount++;
    validated.recordCount += bytes.readInt32BE(at + RECORDS_COUNT_OFFSET);
    validated.offsetCount += bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1;
    at += size;
  }
  return validated;
}

/** Validates the batch at `at`; returns its size in bytes. */
function validateOne(bytes: Buffer, at: number, rules: ValidationRules, validated: ValidatedBatches): number {
  const remaining = bytes.length - at;
  if (remaining < BATCH_HEADER_BYTES) {
    throw new FerryError('CORRUPT_MESSAGE', `record batch at byte ${at} has ${remaining} bytes, fewer than the ${BATCH_HEADER_BYTES}-byte header`);
  }
  const magic = bytes.readInt8(at + MAGIC_OFFSET);
  if (magic === 0 || magic === 1) {
    throw new FerryError('UNSUPPORTED_FOR_MESSAGE_FORMAT', `message format v${magic} is not supported; produce record batches (magic 2, Kafka 0.11+ clients)`);
  }
  if (magic !== CURRENT_MAGIC) throw new FerryError('CORRUPT_MESSAGE', `record batch at byte ${at} has magic ${magic}, expected ${CURRENT_MAGIC}`);
  const lengthField = bytes.readInt32BE(at + LENGTH_OFFSET);
  const size = lengthField + LOG_OVERHEAD;
  if (lengthField < BATCH_HEADER_BYTES - LOG_OVERHEAD || size > remaining) {
    throw new FerryError('CORRUPT_MESSAGE', `record batch at byte ${at} declares ${size} bytes, ${remaining} present`);
  }
  if (size > rules.maxMessageBytes) {
    throw new FerryError('MESSAGE_TOO_LARGE', `record batch of ${size} bytes exceeds max.message.bytes ${rules.maxMessageBytes}`);
  }
  const stored = bytes.readUInt32BE(at + CRC_OFFSET);
  const computed = crc32c(bytes, at + ATTRIBUTES_OFFSET, at + size);
  if (stored !== computed) {
    throw new FerryError('CORRUPT_MESSAGE', `record batch at byte ${at}: CRC32C is ${hex(computed)}, the batch says ${hex(stored)}`);
  }
  const attributes = bytes.readInt16BE(at + ATTRIBUTES_OFFSET);
  if (attributes & CONTROL_FLAG_MASK) throw new FerryError('INVALID_RECORD', 'control batches are written by the broker, not produced');
  const count = bytes.readInt32BE(at + RECORDS_COUNT_OFFSET);
  const lastOffsetDelta = bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
  if (count < 1) throw new FerryError('INVALID_RECORD', `record batch at byte ${at} has ${count} records`);
  if (lastOffsetDelta !== count - 1) {
    throw new FerryError('INVALID_RECORD', `record batch at byte ${at}: lastOffsetDelta ${lastOffsetDelta} does not match ${count} records`);
  }
  const compressed = (attributes & COMPRESSION_CODEC_MASK) !== 0;
  const region = compressed ? recordsRegion(bytes, at) : bytes.subarray(at + RECORDS_OFFSET, at + size);
  const inspection = wasmCore.inspectRecords(region, count, lastOffsetDelta, WASM_CHECK.PRODUCED);
  if (inspection.status !== WASM_BATCH_ERRORS.OK) {
    const name = batchErrorName(inspection.status);
    throw new FerryError(name === 'BAD_RECORD' ? 'CORRUPT_MESSAGE' : 'INVALID_RECORD', `record batch at byte ${at}: ${describe(name)}`);
  }
  if (rules.requireKeys && inspection.nullKeys > 0) throw new FerryError('INVALID_RECORD', 'a compacted topic needs a key on every record');
  const baseTimestamp = bytes.readBigInt64BE(at + BASE_TIMESTAMP_OFFSET);
  validated.maxTimestamps.push(Number(baseTimestamp + (inspection.maxTimestampDelta ?? 0n)));
  return size;
}

function describe(name: string): string {
  switch (name) {
    case 'BAD_RECORD': return 'a record is malformed (a length or varint runs past its bounds)';
    case 'BAD_RECORD_COUNT': return 'the number of records does not match the header';
    case 'BAD_OFFSET_DELTA': return 'record offset deltas are not 0, 1, 2, ...';
    default: return name;
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
