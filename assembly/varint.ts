/**
 * Bounded readers for Kafka's zigzag varint (int32, at most 5 bytes) and
 * varlong (int64, at most 10 bytes), plus the fixed-width reads a record needs.
 *
 * The readers share one cursor over [cursor, limit): globals, because
 * AssemblyScript has no multi-value returns and the module is single-threaded.
 * A read that would cross `limit`, or a varint longer than its type allows,
 * sets `failed` and returns 0 without advancing; callers check `failed` once
 * after a group of reads. Nothing ever reads at or beyond `limit`.
 */

const VARINT_BYTES_MAX: u32 = 5;
const VARLONG_BYTES_MAX: u32 = 10;

export let cursor: usize = 0;
export let limit: usize = 0;
export let failed: bool = false;

/** Points the readers at [start, end) and clears `failed`. */
export function readFrom(start: usize, end: usize): void {
  cursor = start;
  limit = end;
  failed = false;
}

export function remaining(): usize {
  return limit - cursor;
}

export function readInt8(): i32 {
  if (cursor >= limit) {
    failed = true;
    return 0;
  }
  return <i32>load<i8>(cursor++);
}

export function readVarint(): i32 {
  let p = cursor;
  let value: u32 = 0;
  for (let i: u32 = 0; i < VARINT_BYTES_MAX; i++) {
    if (p >= limit) break;
    let b = <u32>load<u8>(p++);
    value |= (b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      cursor = p;
      return <i32>((value >>> 1) ^ (0 - (value & 1)));
    }
  }
  failed = true;
  return 0;
}

export function readVarlong(): i64 {
  let p = cursor;
  let value: u64 = 0;
  for (let i: u32 = 0; i < VARLONG_BYTES_MAX; i++) {
    if (p >= limit) break;
    let b = <u64>load<u8>(p++);
    value |= (b & 0x7f) << (7 * <u64>i);
    if (!(b & 0x80)) {
      cursor = p;
      return <i64>((value >>> 1) ^ (0 - (value & 1)));
    }
  }
  failed = true;
  return 0;
}

/** Steps over `n` bytes; n < 0 or past `limit` fails. */
export function skip(n: i32): void {
  if (n < 0 || <usize>n > limit - cursor) {
    failed = true;
    return;
  }
  cursor += <usize>n;
}
