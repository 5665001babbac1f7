/**
 * RecordBatch v2 validation, on bytes already in linear memory.
 *
 *   baseOffset            int64   @0   outside the CRC (rewritten on append)
 *   batchLength           int32   @8   bytes after this field
 *   partitionLeaderEpoch  int32   @12  outside the CRC (stamped by the leader)
 *   magic                 int8    @16  = 2
 *   crc                   uint32  @17  CRC32C of attributes .. end of batch
 *   attributes            int16   @21  bits 0-2 compression
 *   lastOffsetDelta       int32   @23
 *   baseTimestamp         int64   @27
 *   maxTimestamp          int64   @35
 *   producerId            int64   @43
 *   producerEpoch         int16   @51
 *   baseSequence          int32   @53
 *   recordCount           int32   @57
 *   records                       @61
 *
 * Big-endian throughout: reads are bswap(load<T>(ptr)). Mirrors
 * src/storage/record-batch.ts.
 */

import { crc32c } from './crc32c';
import { CHECK_STORED, recordsHaveNullKey, validateRecords } from './records';
import { BAD_MAGIC, BAD_CRC, BAD_OFFSET_DELTA, BAD_RECORD_COUNT, COMPRESSED, LENGTH_MISMATCH, OK, TOO_SHORT } from './status';

export const BASE_OFFSET_OFFSET: usize = 0;
export const LENGTH_OFFSET: usize = BASE_OFFSET_OFFSET + 8;
export const PARTITION_LEADER_EPOCH_OFFSET: usize = LENGTH_OFFSET + 4;
export const MAGIC_OFFSET: usize = PARTITION_LEADER_EPOCH_OFFSET + 4;
export const CRC_OFFSET: usize = MAGIC_OFFSET + 1;
export const ATTRIBUTES_OFFSET: usize = CRC_OFFSET + 4;
export const LAST_OFFSET_DELTA_OFFSET: usize = ATTRIBUTES_OFFSET + 2;
export const BASE_TIMESTAMP_OFFSET: usize = LAST_OFFSET_DELTA_OFFSET + 4;
export const MAX_TIMESTAMP_OFFSET: usize = BASE_TIMESTAMP_OFFSET + 8;
export const PRODUCER_ID_OFFSET: usize = MAX_TIMESTAMP_OFFSET + 8;
export const PRODUCER_EPOCH_OFFSET: usize = PRODUCER_ID_OFFSET + 8;
export const BASE_SEQUENCE_OFFSET: usize = PRODUCER_EPOCH_OFFSET + 2;
export const RECORDS_COUNT_OFFSET: usize = BASE_SEQUENCE_OFFSET + 4;
export const RECORDS_OFFSET: usize = RECORDS_COUNT_OFFSET + 4;

/** baseOffset + batchLength: the bytes batchLength does not count. */
export const LOG_OVERHEAD: i32 = <i32>LENGTH_OFFSET + 4;
export const BATCH_HEADER_BYTES: i32 = <i32>RECORDS_OFFSET;
const CURRENT_MAGIC: i8 = 2;
const COMPRESSION_CODEC_MASK: i32 = 0x07;

/** Header, length, magic and CRC only. */
export const CHECK_HEADER: i32 = 0;

// @ts-ignore: decorator
@inline function readInt32BE(ptr: usize): i32 {
  return bswap(load<i32>(ptr));
}

// @ts-ignore: decorator
@inline function isCompressed(ptr: usize): bool {
  return (<i32>bswap(load<i16>(ptr + ATTRIBUTES_OFFSET)) & COMPRESSION_CODEC_MASK) != 0;
}

/** Offset-range rule for a batch whose records are not walked here (compressed). */
function checkOffsetRange(count: i32, lastOffsetDelta: i32, mode: i32): i32 {
  if (count < 0) return BAD_RECORD_COUNT;
  if (mode == CHECK_STORED) return count == 0 || lastOffsetDelta >= count - 1 ? OK : BAD_OFFSET_DELTA;
  return lastOffsetDelta == count - 1 ? OK : BAD_OFFSET_DELTA;
}

/**
 * Validates the batch at [ptr, ptr + len). `checkRecords`: CHECK_HEADER (0)
 * checks length, magic and CRC; CHECK_PRODUCED (1, also any other non-zero
 * value) and CHECK_STORED (2) add the offset-range rule and, for an
 * uncompressed batch, walk every record (see records.ts). Returns a status code.
 */
export function validateBatch(ptr: usize, len: i32, checkRecords: i32): i32 {
  if (len < BATCH_HEADER_BYTES) return TOO_SHORT;
  if (<i64>readInt32BE(ptr + LENGTH_OFFSET) + LOG_OVERHEAD != <i64>len) return LENGTH_MISMATCH;
  if (load<i8>(ptr + MAGIC_OFFSET) != CURRENT_MAGIC) return BAD_MAGIC;
  let crc = <u32>readInt32BE(ptr + CRC_OFFSET);
  if (crc32c(ptr + ATTRIBUTES_OFFSET, <usize>len - ATTRIBUTES_OFFSET, 0) != crc) return BAD_CRC;
  if (checkRecords == CHECK_HEADER) return OK;
  let count = readInt32BE(ptr + RECORDS_COUNT_OFFSET);
  let lastOffsetDelta = readInt32BE(ptr + LAST_OFFSET_DELTA_OFFSET);
  if (isCompressed(ptr)) return checkOffsetRange(count, lastOffsetDelta, checkRecords);
  return validateRecords(ptr + RECORDS_OFFSET, len - BATCH_HEADER_BYTES, count, lastOffsetDelta, checkRecords);
}

/**
 * 1 if a record of the uncompressed batch at [ptr, ptr + len) has a null key
 * (compacted topics reject those), 0 if none, or -status: -COMPRESSED for a
 * compressed batch (decompress and use recordsHaveNullKey). The header is not
 * re-validated: call after validateBatch.
 */
export function batchHasNullKey(ptr: usize, len: i32): i32 {
  if (len < BATCH_HEADER_BYTES) return -TOO_SHORT;
  if (isCompressed(ptr)) return -COMPRESSED;
  return recordsHaveNullKey(ptr + RECORDS_OFFSET, len - BATCH_HEADER_BYTES, readInt32BE(ptr + RECORDS_COUNT_OFFSET));
}
