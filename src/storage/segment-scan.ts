/**
 * Walks the record batches of a segment file by reading their headers in
 * chunks, without decoding records. Used to find the end of a segment on open,
 * to locate the batch that holds a timestamp, and (with `verify`) by recovery,
 * which validates each batch whole and stops at the first torn or corrupt one.
 */

import {
  BATCH_HEADER_BYTES,
  CRC_OFFSET,
  ATTRIBUTES_OFFSET,
  CURRENT_MAGIC,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  BASE_OFFSET_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  readInt64AsNumber,
} from './record-batch.js';
import { readAt } from './file-io.js';
import { crc32c } from './crc32c.js';

/** Bytes read per chunk when walking headers or verifying batches. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

export interface BatchHeader {
  position: number;
  sizeBytes: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordCount: number;
}

export type ScanStop = 'end' | 'visitor' | 'torn' | 'corrupt';

export interface ScanResult {
  /** Where the walk stopped: the end of the last whole (and, when verifying, valid) batch visited. */
  endPosition: number;
  stop: ScanStop;
  /** Why a verifying scan stopped early, for the log line. */
  reason?: string;
}

export interface ScanOptions {
  fd: number;
  fromPosition: number;
  endPosition: number;
  /** Read each batch whole and check magic and CRC32C before visiting it. */
  verify: boolean;
  /** Largest batch considered sane: a length beyond it is corruption, not a huge batch. */
  batchBytesMax: number;
  /** Read size; small for short lookups, large for long walks. */
  chunkBytes?: number;
}

/** Chunk for walks expected to be short (an index interval or so). */
export const LOOKUP_CHUNK_BYTES = 16 * 1024;

/** Calls `visit` for each batch from `fromPosition`; a visitor returning false stops the walk. */
export function scanBatches(options: ScanOptions, visit: (header: BatchHeader, bytes: Buffer, at: number) => boolean): ScanResult {
  const { fd, endPosition, verify, batchBytesMax } = options;
  let chunk = Buffer.allocUnsafe(Math.max(BATCH_HEADER_BYTES, Math.min(options.chunkBytes ?? SCAN_CHUNK_BYTES, endPosition - options.fromPosition)));
  let chunkStart = 0;
  let chunkLength = 0;
  let position = options.fromPosition;

  const ensure = (from: number, length: number): boolean => {
    if (from >= chunkStart && from + length <= chunkStart + chunkLength) return true;
    if (length > chunk.length) chunk = Buffer.allocUnsafe(Math.max(length, chunk.length * 2));
    const want = Math.min(chunk.length, endPosition - from);
    if (want < length) return false;
    chunkStart = from;
    chunkLength = readAt(fd, chunk, 0, want, from);
    return chunkLength >= length;
  };

  while (position < endPosition) {
    if (!ensure(position, LOG_OVERHEAD)) return { endPosition: position, stop: 'torn', reason: 'partial batch header' };
    const lengthField = chunk.readInt32BE(position - chunkStart + LENGTH_OFFSET);
    const sizeBytes = lengthField + LOG_OVERHEAD;
    if (lengthField < BATCH_HEADER_BYTES - LOG_OVERHEAD || sizeBytes > batchBytesMax) {
      return { endPosition: position, stop: 'corrupt', reason: `batch length ${lengthField} at position ${position}` };
    }
    if (position + sizeBytes > endPosition) return { endPosition: position, stop: 'torn', reason: `batch of ${sizeBytes} bytes at ${position} runs past the end` };
    if (!ensure(position, verify ? sizeBytes : BATCH_HEADER_BYTES)) {
      return { endPosition: position, stop: 'torn', reason: `short read at ${position}` };
    }
    const at = position - chunkStart;
    if (verify) {
      const problem = verifyBatch(chunk, at, sizeBytes);
      if (problem) return { endPosition: position, stop: 'corrupt', reason: `${problem} at position ${position}` };
    }
    const baseOffset = readInt64AsNumber(chunk, at + BASE_OFFSET_OFFSET);
    const header: BatchHeader = {
      position,
      sizeBytes,
      baseOffset,
      lastOffset: baseOffset + chunk.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
      maxTimestamp: readInt64AsNumber(chunk, at + MAX_TIMESTAMP_OFFSET),
      recordCount: chunk.readInt32BE(at + RECORDS_COUNT_OFFSET),
    };
    if (!visit(header, chunk, at)) return { endPosition: position, stop: 'visitor' };
    position += sizeBytes;
  }
  return { endPosition: position, stop: 'end' };
}

function verifyBatch(bytes: Buffer, at: number, sizeBytes: number): string | null {
  const magic = bytes.readInt8(at + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) return `magic ${magic}`;
  const stored = bytes.readUInt32BE(at + CRC_OFFSET);
  const computed = crc32c(bytes, at + ATTRIBUTES_OFFSET, at + sizeBytes);
  if (stored !== computed) return `CRC32C ${computed.toString(16)} != stored ${stored.toString(16)}`;
  if (bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) < 0) return 'negative lastOffsetDelta';
  return null;
}

export interface WholeBatches {
  /** End of the last whole batch kept, relative to the buffer. */
  end: number;
  /** Offset after the last batch kept (`fallbackNextOffset` when none). */
  nextOffset: number;
}

/**
 * Walks batches laid end to end in memory and keeps the longest prefix of whole
 * batches lying entirely below `maxOffset` (the high watermark never splits a
 * batch a reader sees). A trailing partial batch is dropped.
 */
export function wholeBatchesIn(bytes: Buffer, length: number, maxOffset: number, fallbackNextOffset: number): WholeBatches {
  let at = 0;
  let nextOffset = fallbackNextOffset;
  while (at + BATCH_HEADER_BYTES <= length) {
    const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (at + size > length) break;
    const lastOffset = readInt64AsNumber(bytes, at + BASE_OFFSET_OFFSET) + bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    if (lastOffset >= maxOffset) break;
    nextOffset = lastOffset + 1;
    at += size;
  }
  return { end: at, nextOffset };
}
