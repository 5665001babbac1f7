/**
 * The record walker: parses Record v2 entries from a bare records region (the
 * bytes after a batch's 61-byte header, or what JS decompressed them into).
 *
 *   length          varint   bytes after this field
 *   attributes      int8     unused
 *   timestampDelta  varlong
 *   offsetDelta     varint
 *   keyLength       varint   -1 = null
 *   key             bytes
 *   valueLength     varint   -1 = null
 *   value           bytes
 *   headerCount     varint
 *   headers         [headerKeyLength varint (>= 0), headerKey,
 *                    headerValueLength varint (-1 = null), headerValue]
 *
 * nextRecord() leaves the parsed fields in module globals for the bulk loops
 * (validation, null-key scan, key map) to act on. Each check has its own code
 * in status.ts; the region must hold exactly `count` whole records.
 */

import { BAD_OFFSET_DELTA, BAD_RECORD, BAD_RECORD_COUNT, OK } from './status';
import { cursor, failed, limit, readFrom, readInt8, readVarint, readVarlong, remaining, skip } from './varint';

/** Produce-time rule: offsetDelta of record i is i, lastOffsetDelta is count - 1. */
export const CHECK_PRODUCED: i32 = 1;
/**
 * At-rest rule for batches the cleaner has rewritten: offsetDeltas strictly
 * increase and stay <= lastOffsetDelta, and a batch may keep no records at all
 * (Kafka retains empty batches to preserve producer state).
 */
export const CHECK_STORED: i32 = 2;

// Smallest record body: attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount.
const RECORD_BODY_BYTES_MIN: i32 = 6;
// Smallest header: keyLength 0 and valueLength -1, one byte each.
const HEADER_BYTES_MIN: usize = 2;

export let recordOffsetDelta: i32 = 0;
export let recordTimestampDelta: i64 = 0;
export let recordKeyPtr: usize = 0;
/** -1 for a null key. */
export let recordKeyLength: i32 = -1;
export let recordValuePtr: usize = 0;
/** -1 for a null value (a tombstone). */
export let recordValueLength: i32 = -1;

/** Starts a walk over the records region [ptr, ptr + len). */
export function recordsFrom(ptr: usize, len: i32): void {
  readFrom(ptr, ptr + <usize>len);
}

function skipHeaders(count: i32): bool {
  if (count < 0 || <usize>count > remaining() / HEADER_BYTES_MIN) return false;
  for (let i = 0; i < count; i++) {
    skip(readVarint());
    let valueLength = readVarint();
    if (valueLength < -1) return false;
    if (valueLength >= 0) skip(valueLength);
    if (failed) return false;
  }
  return true;
}

/** Parses one record body whose bytes end at `end` (within the region). */
function parseBody(end: usize): bool {
  let regionLimit = limit;
  readFrom(cursor, end);
  readInt8();
  recordTimestampDelta = readVarlong();
  recordOffsetDelta = readVarint();
  recordKeyLength = readVarint();
  recordKeyPtr = cursor;
  if (recordKeyLength != -1) skip(recordKeyLength);
  recordValueLength = readVarint();
  recordValuePtr = cursor;
  if (recordValueLength != -1) skip(recordValueLength);
  let ok = !failed && skipHeaders(readVarint()) && !failed && cursor == end;
  readFrom(cursor, regionLimit);
  return ok;
}

/**
 * Parses the record at the cursor. OK with the fields in the globals above;
 * BAD_RECORD_COUNT when the region is already exhausted (fewer records than
 * promised); BAD_RECORD when the record is broken.
 */
export function nextRecord(): i32 {
  if (cursor == limit) return BAD_RECORD_COUNT;
  let length = readVarint();
  if (failed || length < RECORD_BODY_BYTES_MIN || <usize>length > remaining()) return BAD_RECORD;
  return parseBody(cursor + <usize>length) ? OK : BAD_RECORD;
}

/**
 * After the promised records: OK if the region ends here. Leftover bytes that
 * parse as another record mean the count is wrong; anything else is garbage.
 */
export function endOfRecords(): i32 {
  if (cursor == limit) return OK;
  return nextRecord() == OK ? BAD_RECORD_COUNT : BAD_RECORD;
}

/** What the last validateRecords walk saw: the largest timestampDelta (i64.MIN_VALUE with no records). */
let validatedMaxTimestampDelta: i64 = i64.MIN_VALUE;
/** What the last validateRecords walk saw: how many records had a null key. */
let validatedNullKeys: i32 = 0;

export function lastValidatedMaxTimestampDelta(): i64 {
  return validatedMaxTimestampDelta;
}

export function lastValidatedNullKeys(): i32 {
  return validatedNullKeys;
}

/**
 * Walks `count` records in [ptr, ptr + len) and checks structure and offset
 * deltas under `mode` (CHECK_PRODUCED, or CHECK_STORED for rewritten batches).
 * Returns a status code.
 */
export function validateRecords(ptr: usize, len: i32, count: i32, lastOffsetDelta: i32, mode: i32): i32 {
  validatedMaxTimestampDelta = i64.MIN_VALUE;
  validatedNullKeys = 0;
  if (count < 0 || len < 0) return BAD_RECORD_COUNT;
  let strict = mode != CHECK_STORED;
  recordsFrom(ptr, len);
  let previousDelta: i32 = -1;
  for (let i = 0; i < count; i++) {
    let status = nextRecord();
    if (status != OK) return status;
    if (recordTimestampDelta > validatedMaxTimestampDelta) validatedMaxTimestampDelta = recordTimestampDelta;
    if (recordKeyLength == -1) validatedNullKeys++;
    let delta = recordOffsetDelta;
    if (strict ? delta != i : delta <= previousDelta || delta > lastOffsetDelta) return BAD_OFFSET_DELTA;
    previousDelta = delta;
  }
  let status = endOfRecords();
  if (status != OK) return status;
  if (strict && lastOffsetDelta != count - 1) return BAD_OFFSET_DELTA;
  return OK;
}

/** 1 if any of the `count` records in [ptr, ptr + len) has a null key, 0 if none, or -status. */
export function recordsHaveNullKey(ptr: usize, len: i32, count: i32): i32 {
  if (count < 0 || len < 0) return -BAD_RECORD_COUNT;
  recordsFrom(ptr, len);
  let found = 0;
  for (let i = 0; i < count; i++) {
    let status = nextRecord();
    if (status != OK) return -status;
    if (recordKeyLength == -1) found = 1;
  }
  let status = endOfRecords();
  return status == OK ? found : -status;
}
