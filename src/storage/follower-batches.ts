/**
 * The checks a follower makes on the leader's batches before appending them
 * as they are (Kafka's appendAsFollower, which validates without assigning).
 * The leader already validated the records, so only what keeps this log sane
 * is checked, batch by batch, and any failure refuses the whole append:
 *
 *   header shorter than 61 bytes, length past the end
 *   or beyond the segment's sane batch size              CORRUPT_MESSAGE
 *   magic other than 2, CRC32C mismatch                   CORRUPT_MESSAGE
 *   negative lastOffsetDelta or record count              CORRUPT_MESSAGE
 *   first batch not at the log end, a batch not right
 *   after the one before (an overlap, or a gap where
 *   gaps are not allowed)                                 OFFSET_OUT_OF_RANGE
 *
 * Not checked, unlike a produce: max.message.bytes, keys on compacted topics,
 * control batches, record layout, producer sequences. Gaps between batches are
 * legal in a compacted log (the cleaner drops whole batches), so `gapsAllowed`
 * accepts a batch starting beyond the offset expected, never before it.
 */

import { FerryError } from '../errors.js';
import { crc32c } from './crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_BYTES,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORDS_COUNT_OFFSET,
  readInt64AsNumber,
} from './record-batch.js';

export interface FollowerAppendRules {
  /** The log end: where the first batch must start. */
  expectedFirstOffset: number;
  /** A batch may start beyond the offset after the one before it (compacted logs). */
  gapsAllowed: boolean;
  /** Largest batch this log treats as sane. */
  batchBytesMax: number;
  /** The log's directory, for error messages. */
  where: string;
}

export interface FollowerBatches {
  firstOffset: number;
  lastOffset: number;
  recordCount: number;
  batchCount: number;
}

export function checkFollowerBatches(bytes: Buffer, rules: FollowerAppendRules): FollowerBatches {
  if (bytes.length === 0) throw new FerryError('CORRUPT_MESSAGE', `empty record set for follower append to ${rules.where}`);
  const checked: FollowerBatches = { firstOffset: readFirstBaseOffset(bytes), lastOffset: -1, recordCount: 0, batchCount: 0 };
  let expected = rules.expectedFirstOffset;
  for (let at = 0; at < bytes.length; ) {
    const size = checkStructure(bytes, at, rules);
    const baseOffset = readInt64AsNumber(bytes, at + BASE_OFFSET_OFFSET);
    if (baseOffset < expected || (baseOffset > expected && !rules.gapsAllowed)) {
      const which = checked.batchCount === 0 ? `the log end ${expected} of ${rules.where}` : `offset ${expected}, after the batch before it`;
      throw new FerryError('OFFSET_OUT_OF_RANGE', `follower append: batch at byte ${at} starts at offset ${baseOffset}, expected ${which}`);
    }
    checked.lastOffset = baseOffset + bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    checked.recordCount += bytes.readInt32BE(at + RECORDS_COUNT_OFFSET);
    checked.batchCount++;
    expected = checked.lastOffset + 1;
    at += size;
  }
  return checked;
}

function readFirstBaseOffset(bytes: Buffer): number {
  if (bytes.length < BATCH_HEADER_BYTES) throw new FerryError('CORRUPT_MESSAGE', `follower append of ${bytes.length} bytes, fewer than one ${BATCH_HEADER_BYTES}-byte batch header`);
  return readInt64AsNumber(bytes, BASE_OFFSET_OFFSET);
}

/** Checks the batch at `at` is whole, magic 2 and intact; returns its size in bytes. */
function checkStructure(bytes: Buffer, at: number, rules: FollowerAppendRules): number {
  const remaining = bytes.length - at;
  if (remaining < BATCH_HEADER_BYTES) throw new FerryError('CORRUPT_MESSAGE', `follower batch at byte ${at} has ${remaining} bytes, fewer than the ${BATCH_HEADER_BYTES}-byte header`);
  const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
  if (size < BATCH_HEADER_BYTES || size > remaining || size > rules.batchBytesMax) {
    throw new FerryError('CORRUPT_MESSAGE', `follower batch at byte ${at} declares ${size} bytes; ${remaining} present, at most ${rules.batchBytesMax} accepted`);
  }
  const magic = bytes.readInt8(at + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) throw new FerryError('CORRUPT_MESSAGE', `follower batch at byte ${at} has magic ${magic}, expected ${CURRENT_MAGIC}`);
  const stored = bytes.readUInt32BE(at + CRC_OFFSET);
  const computed = crc32c(bytes, at + ATTRIBUTES_OFFSET, at + size);
  if (stored !== computed) throw new FerryError('CORRUPT_MESSAGE', `follower batch at byte ${at}: CRC32C is ${computed.toString(16)}, the batch says ${stored.toString(16)}`);
  if (bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) < 0 || bytes.readInt32BE(at + RECORDS_COUNT_OFFSET) < 0) {
    throw new FerryError('CORRUPT_MESSAGE', `follower batch at byte ${at} has a negative lastOffsetDelta or record count`);
  }
  return size;
}
