/**
 * Ferry's storage core: the WebAssembly module's export list, nothing else.
 *
 * Every function works on pointers into linear memory; the JS side copies bytes
 * into the staging arena first (src/storage/wasm-core.ts does it for you).
 * Status codes are exported as immutable globals.
 */

export { alloc, reset, arenaMark, arenaRewind } from './memory';
export { crc32c } from './crc32c';
export { validateBatch, batchHasNullKey, CHECK_HEADER } from './batch';
export { validateRecords, recordsHaveNullKey, lastValidatedMaxTimestampDelta, lastValidatedNullKeys, CHECK_PRODUCED, CHECK_STORED } from './records';
export {
  keymapInit,
  keymapCapacity,
  keymapSize,
  keymapPut,
  keymapGet,
  keymapIndexRecords,
  keymapSelectLatest,
  KEYMAP_CAPACITY_MAX,
} from './keymap';
export { xxhash64 } from './xxhash64';
export { indexFloor, indexFloorI64 } from './index-search';
export {
  OK,
  TOO_SHORT,
  LENGTH_MISMATCH,
  BAD_MAGIC,
  BAD_CRC,
  BAD_RECORD,
  BAD_RECORD_COUNT,
  BAD_OFFSET_DELTA,
  COMPRESSED,
  KEYMAP_FULL,
  OUT_OF_MEMORY,
} from './status';
