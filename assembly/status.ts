/**
 * Result codes shared by every export.
 *
 * 0 is success; a positive code names what was wrong. Exports that otherwise
 * return a count (records walked, a capacity) report an error as the negated
 * code. The values are exported as globals and mirrored by WASM_BATCH_ERRORS in
 * src/storage/wasm-core.ts, which checks the two agree at load time.
 */

export const OK: i32 = 0;
/** Fewer bytes than a batch header (61). */
export const TOO_SHORT: i32 = 1;
/** batchLength + 12 is not the number of bytes given. */
export const LENGTH_MISMATCH: i32 = 2;
/** magic is not 2. */
export const BAD_MAGIC: i32 = 3;
/** CRC32C over attributes .. end differs from the crc field. */
export const BAD_CRC: i32 = 4;
/** A record is structurally broken: a length out of bounds, a bad varint, trailing garbage. */
export const BAD_RECORD: i32 = 5;
/** recordCount disagrees with the records present. */
export const BAD_RECORD_COUNT: i32 = 6;
/** A record's offsetDelta, or the batch's lastOffsetDelta, is out of sequence. */
export const BAD_OFFSET_DELTA: i32 = 7;
/** The operation walks records and the batch is compressed: decompress first. */
export const COMPRESSED: i32 = 8;
/** The key map holds keymapCapacity() keys and a new key arrived. */
export const KEYMAP_FULL: i32 = 9;
/** memory.grow failed, or a request exceeds a named maximum. */
export const OUT_OF_MEMORY: i32 = 10;
