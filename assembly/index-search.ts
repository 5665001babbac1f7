/**
 * Binary search over Kafka's sparse index files, on bytes in linear memory.
 *
 *   .index      8-byte entries: relativeOffset int32, position int32
 *   .timeindex  12-byte entries: timestamp int64, relativeOffset int32
 *
 * Big-endian, sorted by the first field (non-decreasing). Both searches return
 * the position of the last entry whose key is <= target, or -1 when the first
 * entry's key is already above it (or there are no entries).
 */

// @ts-ignore: decorator
@inline function keyAt32(entriesPtr: usize, index: i32, entryBytes: i32): i32 {
  return bswap(load<i32>(entriesPtr + <usize>index * <usize>entryBytes));
}

// @ts-ignore: decorator
@inline function keyAt64(entriesPtr: usize, index: i32, entryBytes: i32): i64 {
  return bswap(load<i64>(entriesPtr + <usize>index * <usize>entryBytes));
}

export function indexFloor(entriesPtr: usize, entryCount: i32, entryBytes: i32, target: i32): i32 {
  assert(entryBytes >= 4, 'index entry smaller than its int32 key');
  let low = 0;
  let high = entryCount - 1;
  let found = -1;
  while (low <= high) {
    let middle = (low + high) >>> 1;
    if (keyAt32(entriesPtr, middle, entryBytes) <= target) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

export function indexFloorI64(entriesPtr: usize, entryCount: i32, entryBytes: i32, target: i64): i32 {
  assert(entryBytes >= 8, 'index entry smaller than its int64 key');
  let low = 0;
  let high = entryCount - 1;
  let found = -1;
  while (low <= high) {
    let middle = (low + high) >>> 1;
    if (keyAt64(entriesPtr, middle, entryBytes) <= target) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
