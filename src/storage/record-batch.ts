/**
 * RecordBatch v2 (magic 2): the on-disk and on-wire layout Ferry stores verbatim.
 *
 *   baseOffset            int64   offset of the first record (rewritten on append)
 *   batchLength           int32   bytes after this field
 *   partitionLeaderEpoch  int32
 *   magic                 int8    = 2
 *   crc                   uint32  CRC32C of attributes .. end of batch
 *   attributes            int16   bits 0-2 compression, 3 timestamp type,
 *                                 4 transactional, 5 control, 6 delete horizon
 *   lastOffsetDelta       int32
 *   baseTimestamp         int64
 *   maxTimestamp          int64
 *   producerId            int64
 *   producerEpoch         int16
 *   baseSequence          int32
 *   recordCount           int32
 *   records               [Record]
 *
 * All integers are big-endian. The header accessors below read a batch that
 * starts at `at` inside a larger buffer, so a fetch buffer holding many batches
 * is walked without slicing.
 */

export const BASE_OFFSET_OFFSET = 0;
export const BASE_OFFSET_LENGTH = 8;
export const LENGTH_OFFSET = BASE_OFFSET_OFFSET + BASE_OFFSET_LENGTH;
export const LENGTH_LENGTH = 4;
export const PARTITION_LEADER_EPOCH_OFFSET = LENGTH_OFFSET + LENGTH_LENGTH;
export const PARTITION_LEADER_EPOCH_LENGTH = 4;
export const MAGIC_OFFSET = PARTITION_LEADER_EPOCH_OFFSET + PARTITION_LEADER_EPOCH_LENGTH;
export const MAGIC_LENGTH = 1;
export const CRC_OFFSET = MAGIC_OFFSET + MAGIC_LENGTH;
export const CRC_LENGTH = 4;
export const ATTRIBUTES_OFFSET = CRC_OFFSET + CRC_LENGTH;
export const ATTRIBUTES_LENGTH = 2;
export const LAST_OFFSET_DELTA_OFFSET = ATTRIBUTES_OFFSET + ATTRIBUTES_LENGTH;
export const LAST_OFFSET_DELTA_LENGTH = 4;
export const BASE_TIMESTAMP_OFFSET = LAST_OFFSET_DELTA_OFFSET + LAST_OFFSET_DELTA_LENGTH;
export const BASE_TIMESTAMP_LENGTH = 8;
export const MAX_TIMESTAMP_OFFSET = BASE_TIMESTAMP_OFFSET + BASE_TIMESTAMP_LENGTH;
export const MAX_TIMESTAMP_LENGTH = 8;
export const PRODUCER_ID_OFFSET = MAX_TIMESTAMP_OFFSET + MAX_TIMESTAMP_LENGTH;
export const PRODUCER_ID_LENGTH = 8;
export const PRODUCER_EPOCH_OFFSET = PRODUCER_ID_OFFSET + PRODUCER_ID_LENGTH;
export const PRODUCER_EPOCH_LENGTH = 2;
export const BASE_SEQUENCE_OFFSET = PRODUCER_EPOCH_OFFSET + PRODUCER_EPOCH_LENGTH;
export const BASE_SEQUENCE_LENGTH = 4;
export const RECORDS_COUNT_OFFSET = BASE_SEQUENCE_OFFSET + BASE_SEQUENCE_LENGTH;
export const RECORDS_COUNT_LENGTH = 4;
export const RECORDS_OFFSET = RECORDS_COUNT_OFFSET + RECORDS_COUNT_LENGTH;

/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = LENGTH_OFFSET + LENGTH_LENGTH;
/** Smallest legal batch: a header with no records. */
export const BATCH_HEADER_BYTES = RECORDS_OFFSET;
export const CURRENT_MAGIC = 2;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

export const enum CompressionCodec {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export const NO_TIMESTAMP = -1n;
export const NO_PRODUCER_ID = -1n;

/** Total bytes of the batch at `at`, log overhead included. */
export function batchSize(buf: Buffer, at = 0): number {
  return buf.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
}

export function batchCrc(buf: Buffer, at = 0): number {
  return buf.readUInt32BE(at + CRC_OFFSET);
}

export function batchAttributes(buf: Buffer, at = 0): number {
  return buf.readInt16BE(at + ATTRIBUTES_OFFSET);
}

export function batchCompression(buf: Buffer, at = 0): CompressionCodec {
  return (batchAttributes(buf, at) & COMPRESSION_CODEC_MASK) as CompressionCodec;
}

export function batchIsControl(buf: Buffer, at = 0): boolean {
  return (batchAttributes(buf, at) & CONTROL_FLAG_MASK) !== 0;
}

export function batchUsesLogAppendTime(buf: Buffer, at = 0): boolean {
  return (batchAttributes(buf, at) & TIMESTAMP_TYPE_MASK) !== 0;
}

const TWO_TO_32 = 2 ** 32;

/**
 * An int64 field as a JS number, without a BigInt: exact up to 2^53, which
 * offsets and millisecond timestamps never reach. For the hot paths.
 */
export function readInt64AsNumber(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_TO_32 + buf.readUInt32BE(at + 4);
}

export function writeInt64FromNumber(buf: Buffer, value: number, at: number): void {
  buf.writeInt32BE(Math.floor(value / TWO_TO_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}
