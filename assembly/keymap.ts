/**
 * The key map compaction needs: key -> latest offset, as Kafka's cleaner
 * builds it (SkimpyOffsetMap): fixed capacity chosen up front, fingerprints
 * instead of key bytes.
 *
 * Open addressing, linear probing, power-of-two slot count, load factor at
 * most 3/4 when full. A slot is 24 bytes:
 *
 *   hash1   u64  @0   xxHash64(key, SEED1), never 0 (0 marks an empty slot)
 *   hash2   u64  @8   xxHash64(key, SEED2)
 *   offset  i64  @16  the largest offset put for the key
 *
 * The table lives in the region below the staging arena (memory.ts), so
 * keymapInit resets the arena.
 */

import { reserveTableRegion } from './memory';
import { endOfRecords, nextRecord, recordKeyLength, recordKeyPtr, recordOffsetDelta, recordsFrom, recordValueLength } from './records';
import { BAD_RECORD_COUNT, KEYMAP_FULL, OK, OUT_OF_MEMORY } from './status';
import { xxhash64 } from './xxhash64';

const SLOT_BYTES: usize = 24;
const HASH2_OFFSET: usize = 8;
const OFFSET_OFFSET: usize = 16;
const SEED1: u64 = 0;
const SEED2: u64 = 0x9e3779b97f4a7c15;
const SLOTS_MIN: u32 = 16;
/** 32 Mi keys: 2^26 slots, 1.5 GiB of table. */
export const KEYMAP_CAPACITY_MAX: i32 = 1 << 25;

/** selectLatest decisions, one byte per record. */
const DROP: u8 = 0;
const KEEP: u8 = 1;
const KEEP_TOMBSTONE: u8 = 2;

let table: usize = 0;
let slotMask: u32 = 0;
let capacity: i32 = 0;
let size: i32 = 0;
let hash1: u64 = 0;
let hash2: u64 = 0;

function hashKey(ptr: usize, len: i32): void {
  hash1 = xxhash64(ptr, <usize>len, SEED1);
  if (hash1 == 0) hash1 = 1;
  hash2 = xxhash64(ptr, <usize>len, SEED2);
}

/** The slot holding (hash1, hash2), or the empty slot where it would go. */
function findSlot(): usize {
  let index = <u32>hash1 & slotMask;
  while (true) {
    let slot = table + <usize>index * SLOT_BYTES;
    let stored = load<u64>(slot);
    if (stored == 0 || (stored == hash1 && load<u64>(slot, HASH2_OFFSET) == hash2)) return slot;
    index = (index + 1) & slotMask;
  }
  return 0;
}

/**
 * Empties the map and sizes it for at least `capacityEntries` keys; resets the
 * staging arena. Returns the capacity granted (>= requested), or -OUT_OF_MEMORY
 * (beyond KEYMAP_CAPACITY_MAX or memory.grow failed), leaving the map empty
 * with capacity 0.
 */
export function keymapInit(capacityEntries: i32): i32 {
  table = 0;
  slotMask = capacity = size = 0;
  if (capacityEntries < 0 || capacityEntries > KEYMAP_CAPACITY_MAX) return -OUT_OF_MEMORY;
  let slotsWanted = <u32>capacityEntries + (<u32>capacityEntries + 2) / 3; // capacity / (3/4)
  let slots = slotsWanted <= SLOTS_MIN ? SLOTS_MIN : <u32>1 << (32 - clz<u32>(slotsWanted - 1));
  let base = reserveTableRegion(<u64>slots * SLOT_BYTES);
  if (base == 0) return -OUT_OF_MEMORY;
  table = base;
  slotMask = slots - 1;
  capacity = <i32>(slots - (slots >>> 2));
  return capacity;
}

export function keymapCapacity(): i32 {
  return capacity;
}

export function keymapSize(): i32 {
  return size;
}

function putHashed(offset: i64): i32 {
  if (capacity == 0) return -KEYMAP_FULL;
  let slot = findSlot();
  if (load<u64>(slot) != 0) {
    if (offset > load<i64>(slot, OFFSET_OFFSET)) store<i64>(slot, offset, OFFSET_OFFSET);
    return 0;
  }
  if (size == capacity) return -KEYMAP_FULL;
  store<u64>(slot, hash1);
  store<u64>(slot, hash2, HASH2_OFFSET);
  store<i64>(slot, offset, OFFSET_OFFSET);
  size++;
  return 1;
}

function getHashed(): i64 {
  if (capacity == 0) return -1;
  let slot = findSlot();
  return load<u64>(slot) == 0 ? -1 : load<i64>(slot, OFFSET_OFFSET);
}

/** Records `offset` for the key unless a larger one is there. 1 new key, 0 known key, -KEYMAP_FULL. */
export function keymapPut(keyPtr: usize, keyLen: i32, offset: i64): i32 {
  hashKey(keyPtr, keyLen);
  return putHashed(offset);
}

/** The key's offset, or -1 when absent. */
export function keymapGet(keyPtr: usize, keyLen: i32): i64 {
  hashKey(keyPtr, keyLen);
  return getHashed();
}

/**
 * Puts key -> baseOffset + offsetDelta for every keyed record of a bare records
 * region. Returns the records walked, or -status (-KEYMAP_FULL leaves the keys
 * before the failing record in the map: check keymapSize() + recordCount <=
 * keymapCapacity() first, as Kafka's cleaner does per segment).
 */
export function keymapIndexRecords(recordsPtr: usize, recordsLen: i32, recordCount: i32, baseOffset: i64): i32 {
  if (recordCount < 0 || recordsLen < 0) return -BAD_RECORD_COUNT;
  recordsFrom(recordsPtr, recordsLen);
  for (let i = 0; i < recordCount; i++) {
    let status = nextRecord();
    if (status != OK) return -status;
    if (recordKeyLength < 0) continue;
    hashKey(recordKeyPtr, recordKeyLength);
    if (putHashed(baseOffset + <i64>recordOffsetDelta) < 0) return -KEYMAP_FULL;
  }
  let status = endOfRecords();
  return status == OK ? recordCount : -status;
}

function decide(offset: i64): u8 {
  if (recordKeyLength < 0) return KEEP;
  hashKey(recordKeyPtr, recordKeyLength);
  if (offset < getHashed()) return DROP;
  return recordValueLength < 0 ? KEEP_TOMBSTONE : KEEP;
}

/**
 * Writes one decision byte per record to out[i]: 0 drop (a later offset holds
 * the key), 1 keep (latest for its key, key absent from the map, or null key),
 * 2 keep-if-young (latest, but a tombstone: the caller applies
 * delete.retention.ms). Returns the records walked, or -status.
 */
export function keymapSelectLatest(recordsPtr: usize, recordsLen: i32, recordCount: i32, baseOffset: i64, outPtr: usize): i32 {
  if (recordCount < 0 || recordsLen < 0) return -BAD_RECORD_COUNT;
  recordsFrom(recordsPtr, recordsLen);
  for (let i = 0; i < recordCount; i++) {
    let status = nextRecord();
    if (status != OK) return -status;
    store<u8>(outPtr + <usize>i, decide(baseOffset + <i64>recordOffsetDelta));
  }
  let status = endOfRecords();
  return status == OK ? recordCount : -status;
}
