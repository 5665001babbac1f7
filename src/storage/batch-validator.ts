/**
 * Validation of record batches arriving from a producer, before anything of
 * them reaches disk. A produce request's records blob may hold several
 * batches; all of them are checked, and any failure rejects the whole blob
 * with the Kafka error a client expects:
 *
 *   header shorter than 61 bytes, length past the end      CORRUPT_MESSAGE
 *   magic 0 or 1 (pre-0.11 message sets)                   UNSUPPORTED_FOR_MESSAGE_FORMAT
 *   other magic, CRC32C mismatch, malformed record         CORRUPT_MESSAGE
 *   batch larger than max.message.bytes                    MESSAGE_TOO_LARGE
 *   no records, offset deltas or count inconsistent,
 *   control batch from a client, null key when compacted   INVALID_RECORD
 *
 * The CRC runs on the caller's bytes (native SSE4.2 when built); the record
 * walk of uncompressed batches runs in the WASM core.
 */

import { FerryError } from '../errors.js';
import { crc32c } from './crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
} from './record-batch.js';
import { checkRecordStructure } from './record-check.js';

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
}

export function validateBatches(bytes: Buffer, rules: ValidationRules): ValidatedBatches {
  if (bytes.length === 0) throw new FerryError('CORRUPT_MESSAGE', 'empty record set');
  let at = 0;
  let batchCount = 0;
  let recordCount = 0;
  let offsetCount = 0;
  while (at < bytes.length) {
    const size = validateOne(bytes, at, rules);
    batchCount++;
    recordCount += bytes.readInt32BE(at + RECORDS_COUNT_OFFSET);
    offsetCount += bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1;
    at += size;
  }
  return { batchCount, recordCount, offsetCount };
}

/** Validates the batch at `at`; returns its size in bytes. */
function validateOne(bytes: Buffer, at: number, rules: ValidationRules): number {
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
  if (bytes.readBigInt64BE(at + MAX_TIMESTAMP_OFFSET) < -1n) throw new FerryError('INVALID_TIMESTAMP', `record batch at byte ${at} has a negative max timestamp`);
  checkRecordStructure(bytes, at, size, (attributes & COMPRESSION_CODEC_MASK) !== 0, rules.requireKeys);
  return size;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
