/**
 * Loader for Ferry's WebAssembly storage core (assembly/, built into
 * dist/wasm/ferry-core.wasm by `npm run build:wasm`).
 *
 * The module is small, so it is compiled and instantiated synchronously at
 * import time. Its exports work on pointers into linear memory; `wasmCore`
 * wraps them in methods that take Uint8Arrays, copy the bytes into the staging
 * arena, call, and free the staging again (arenaMark/arenaRewind, so blocks a
 * `raw` caller placed earlier survive). `wasmCore.raw` is the export object
 * itself, for callers that place bytes themselves.
 *
 * Linear memory grows on demand and never shrinks; a grow detaches every view
 * of the old buffer, so views are always made fresh from `memory.buffer` after
 * the last call that may allocate. Pointers are u32: exports return them as
 * signed i32, so normalize with `>>> 0` before making a view.
 *
 * The status codes are mirrored here as WASM_BATCH_ERRORS and checked against
 * the module's exported globals at load time.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assert, FerryError } from '../errors.js';

/** Status codes of validateBatch and friends; bulk exports return them negated. */
export const WASM_BATCH_ERRORS = {
  OK: 0,
  TOO_SHORT: 1,
  LENGTH_MISMATCH: 2,
  BAD_MAGIC: 3,
  BAD_CRC: 4,
  BAD_RECORD: 5,
  BAD_RECORD_COUNT: 6,
  BAD_OFFSET_DELTA: 7,
  COMPRESSED: 8,
  KEYMAP_FULL: 9,
  OUT_OF_MEMORY: 10,
} as const;

export type WasmBatchErrorName = keyof typeof WASM_BATCH_ERRORS;
export type WasmBatchError = (typeof WASM_BATCH_ERRORS)[WasmBatchErrorName];

/**
 * How much validateBatch checks. HEADER: length, magic, CRC. PRODUCED: also the
 * produce-time record rules (offsetDelta of record i is i, lastOffsetDelta is
 * recordCount - 1). STORED: the at-rest rules for batches a cleaner rewrote
 * (offsetDeltas increasing and <= lastOffsetDelta, empty batches allowed): use
 * it for recovery scans of compacted logs. Records are walked only when the
 * batch is uncompressed; decompress and call validateRecords otherwise.
 */
export const WASM_CHECK = {
  HEADER: 0,
  PRODUCED: 1,
  STORED: 2,
} as const;

export type WasmCheckMode = (typeof WASM_CHECK)[keyof typeof WASM_CHECK];

/** keymapSelectLatest's decision per record. */
export const KEYMAP_DECISION = {
  /** A later offset holds the key. */
  DROP: 0,
  /** Latest for its key, key absent from the map, or a null key. */
  KEEP: 1,
  /** Latest for its key but a tombstone: keep until delete.retention.ms has passed. */
  KEEP_TOMBSTONE: 2,
} as const;

const ERROR_NAMES = new Map<number, WasmBatchErrorName>(
  Object.entries(WASM_BATCH_ERRORS).map(([name, code]) => [code, name as WasmBatchErrorName]),
);

export function batchErrorName(code: number): WasmBatchErrorName | `UNKNOWN(${number})` {
  return ERROR_NAMES.get(Math.abs(code)) ?? `UNKNOWN(${code})`;
}

export interface RecordsInspection {
  status: WasmBatchError;
  /** Largest timestampDelta among the records; null when there are none. */
  maxTimestampDelta: bigint | null;
  nullKeys: number;
}

const INT64_MIN = -(2n ** 63n);

/** Bytes copied into linear memory per crc32c call: keeps memory small for large inputs. */
export const CRC_STAGING_BYTES_MAX = 256 * 1024;

interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

interface WasmGlobal {
  readonly value: number;
}

/** The module's exports, as typed as JS sees them (i64 as bigint, pointers as signed i32). */
export interface WasmCoreExports {
  readonly memory: WasmMemory;
  /** A 16-byte aligned arena block, or 0 when memory is exhausted. */
  alloc(size: number): number;
  reset(): void;
  arenaMark(): number;
  arenaRewind(mark: number): void;
  /** Signed: normalize with `>>> 0`. */
  crc32c(ptr: number, len: number, crc: number): number;
  validateBatch(ptr: number, len: number, checkRecords: number): number;
  batchHasNullKey(ptr: number, len: number): number;
  validateRecords(ptr: number, len: number, count: number, lastOffsetDelta: number, mode: number): number;
  recordsHaveNullKey(ptr: number, len: number, count: number): number;
  lastValidatedMaxTimestampDelta(): bigint;
  lastValidatedNullKeys(): number;
  keymapInit(capacityEntries: number): number;
  keymapCapacity(): number;
  keymapSize(): number;
  keymapPut(keyPtr: number, keyLen: number, offset: bigint): number;
  keymapGet(keyPtr: number, keyLen: number): bigint;
  keymapIndexRecords(recordsPtr: number, recordsLen: number, recordCount: number, baseOffset: bigint): number;
  keymapSelectLatest(
    recordsPtr: number,
    recordsLen: number,
    recordCount: number,
    baseOffset: bigint,
    outPtr: number,
  ): number;
  /** Signed i64: normalize with BigInt.asUintN(64, h). */
  xxhash64(ptr: number, len: number, seed: bigint): bigint;
  indexFloor(entriesPtr: number, entryCount: number, entryBytes: number, target: number): number;
  indexFloorI64(entriesPtr: number, entryCount: number, entryBytes: number, target: bigint): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

// Node's @types carry no WebAssembly declarations without the DOM lib; type the two constructors used.
const { Module, Instance } = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const WASM_PATH = fileURLToPath(new URL('../../dist/wasm/ferry-core.wasm', import.meta.url));

function readWasm(): Uint8Array {
  try {
    return readFileSync(WASM_PATH);
  } catch (error) {
    throw new Error(`Ferry's WASM core is missing at ${WASM_PATH}: run \`npm run build:wasm\``, { cause: error });
  }
}

function instantiate(): WasmCoreExports {
  const { exports } = new Instance(new Module(readWasm()), {});
  for (const [name, code] of Object.entries(WASM_BATCH_ERRORS)) {
    const exported = (exports[name] as WasmGlobal | undefined)?.value;
    assert(exported === code, `WASM status ${name}: module exports ${exported}, loader expects ${code}`);
  }
  const modes = { HEADER: 'CHECK_HEADER', PRODUCED: 'CHECK_PRODUCED', STORED: 'CHECK_STORED' } as const;
  for (const [mode, name] of Object.entries(modes)) {
    const exported = (exports[name] as WasmGlobal | undefined)?.value;
    const expected = WASM_CHECK[mode as keyof typeof modes];
    assert(exported === expected, `WASM ${name}: module exports ${exported}, loader expects ${expected}`);
  }
  return exports as unknown as WasmCoreExports;
}

const core = instantiate();

/** A view of linear memory made now: valid until the next call that may grow memory. */
function view(ptr: number, len: number): Uint8Array {
  return new Uint8Array(core.memory.buffer, ptr >>> 0, len);
}

function checkRange(bytes: Uint8Array, start: number, end: number): void {
  assert(
    Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length,
    `range [${start}, ${end}) outside ${bytes.length} bytes`,
  );
}

/** Copies bytes[start, end) into a new arena block; the caller rewinds the arena. */
function stage(bytes: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const ptr = core.alloc(len) >>> 0;
  if (ptr === 0) throw new RangeError(`WASM core: cannot stage ${len} bytes, linear memory exhausted`);
  view(ptr, len).set(bytes.subarray(start, end));
  return ptr;
}

/** Turns a negative status from a record walk into a typed error. */
function recordsResult(result: number, what: string): number {
  if (result >= 0) return result;
  const name = batchErrorName(result);
  assert(name !== 'KEYMAP_FULL', `${what}: key map full at ${core.keymapSize()} of ${core.keymapCapacity()} keys`);
  assert(name !== 'COMPRESSED', `${what}: batch is compressed, decompress and pass the records region`);
  throw new FerryError('CORRUPT_MESSAGE', `${what}: ${name}`);
}

function keyCall<T>(key: Uint8Array, call: (ptr: number) => T): T {
  const mark = core.arenaMark();
  try {
    return call(stage(key, 0, key.length));
  } finally {
    core.arenaRewind(mark);
  }
}

export const wasmCore = {
  /** The module's exports (memory included), for callers that place bytes themselves. */
  raw: core,

  /** A fresh view of linear memory at [ptr, ptr + len). */
  view,

  /** CRC32C of bytes[start, end), continuing from `crc` (0 for a fresh sum), as crc32cReference. */
  crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
    checkRange(bytes, start, end);
    const mark = core.arenaMark();
    try {
      const chunkBytes = Math.min(end - start, CRC_STAGING_BYTES_MAX);
      const ptr = core.alloc(chunkBytes) >>> 0;
      if (ptr === 0) throw new RangeError(`WASM core: cannot stage ${chunkBytes} bytes, linear memory exhausted`);
      let sum = crc;
      for (let at = start; at < end; at += chunkBytes) {
        const len = Math.min(chunkBytes, end - at);
        view(ptr, len).set(bytes.subarray(at, at + len));
        sum = core.crc32c(ptr, len, sum);
      }
      return sum >>> 0;
    } finally {
      core.arenaRewind(mark);
    }
  },

  /** Validates the RecordBatch v2 at bytes[start, end); returns a WASM_BATCH_ERRORS code (0 = valid). */
  validateBatch(
    bytes: Uint8Array,
    start = 0,
    end = bytes.length,
    checkRecords: WasmCheckMode = WASM_CHECK.PRODUCED,
  ): WasmBatchError {
    checkRange(bytes, start, end);
    const mark = core.arenaMark();
    try {
      return core.validateBatch(stage(bytes, start, end), end - start, checkRecords) as WasmBatchError;
    } finally {
      core.arenaRewind(mark);
    }
  },

  /**
   * Validates a bare records region (a decompressed batch body) holding
   * `recordCount` records; returns a WASM_BATCH_ERRORS code.
   */
  validateRecords(
    records: Uint8Array,
    recordCount: number,
    lastOffsetDelta: number,
    mode: WasmCheckMode = WASM_CHECK.PRODUCED,
  ): WasmBatchError {
    const mark = core.arenaMark();
    try {
      const ptr = stage(records, 0, records.length);
      return core.validateRecords(ptr, records.length, recordCount, lastOffsetDelta, mode) as WasmBatchError;
    } finally {
      core.arenaRewind(mark);
    }
  },

  /**
   * validateRecords, plus what the walk saw: the largest timestampDelta
   * (null with no records) and how many records have a null key. One pass
   * serves produce validation, the max-timestamp rewrite and the compacted-topic key rule.
   */
  inspectRecords(records: Uint8Array, recordCount: number, lastOffsetDelta: number, mode: WasmCheckMode = WASM_CHECK.PRODUCED): RecordsInspection {
    const status = this.validateRecords(records, recordCount, lastOffsetDelta, mode);
    const maxDelta = core.lastValidatedMaxTimestampDelta();
    return { status, maxTimestampDelta: maxDelta === INT64_MIN ? null : maxDelta, nullKeys: core.lastValidatedNullKeys() };
  },

  /** Whether the uncompressed batch at bytes[start, end) has a record with a null key. */
  batchHasNullKey(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    checkRange(bytes, start, end);
    const mark = core.arenaMark();
    try {
      return recordsResult(core.batchHasNullKey(stage(bytes, start, end), end - start), 'batchHasNullKey') === 1;
    } finally {
      core.arenaRewind(mark);
    }
  },

  /** Whether a bare records region holding `recordCount` records has one with a null key. */
  recordsHaveNullKey(records: Uint8Array, recordCount: number): boolean {
    const mark = core.arenaMark();
    try {
      const ptr = stage(records, 0, records.length);
      return recordsResult(core.recordsHaveNullKey(ptr, records.length, recordCount), 'recordsHaveNullKey') === 1;
    } finally {
      core.arenaRewind(mark);
    }
  },

  /**
   * Empties the key map and sizes it for at least `capacityEntries` keys.
   * Resets the staging arena (the table sits below it). Returns the capacity granted.
   */
  keymapInit(capacityEntries: number): number {
    const granted = core.keymapInit(capacityEntries);
    if (granted < 0) throw new RangeError(`WASM core: no room for a key map of ${capacityEntries} keys`);
    return granted;
  },

  keymapCapacity(): number {
    return core.keymapCapacity();
  },

  keymapSize(): number {
    return core.keymapSize();
  },

  /** Records `offset` for `key` unless a larger offset is there; true if the key is new. */
  keymapPut(key: Uint8Array, offset: bigint): boolean {
    const result = keyCall(key, (ptr) => core.keymapPut(ptr, key.length, offset));
    return recordsResult(result, 'keymapPut') === 1;
  },

  /** The largest offset put for `key`, or -1n. */
  keymapGet(key: Uint8Array): bigint {
    return keyCall(key, (ptr) => core.keymapGet(ptr, key.length));
  },

  /**
   * Puts key -> baseOffset + offsetDelta for each keyed record of a bare
   * records region. Returns the records walked. Check
   * keymapSize() + recordCount <= keymapCapacity() first: a full map throws.
   */
  keymapIndexRecords(records: Uint8Array, recordCount: number, baseOffset: bigint): number {
    const mark = core.arenaMark();
    try {
      const ptr = stage(records, 0, records.length);
      const walked = core.keymapIndexRecords(ptr, records.length, recordCount, baseOffset);
      return recordsResult(walked, 'keymapIndexRecords');
    } finally {
      core.arenaRewind(mark);
    }
  },

  /** One KEYMAP_DECISION per record of a bare records region, in record order. */
  keymapSelectLatest(records: Uint8Array, recordCount: number, baseOffset: bigint): Uint8Array {
    const mark = core.arenaMark();
    try {
      const ptr = stage(records, 0, records.length);
      const outPtr = core.alloc(Math.max(recordCount, 0)) >>> 0;
      if (outPtr === 0) throw new RangeError(`WASM core: cannot stage ${recordCount} decisions`);
      const walked = core.keymapSelectLatest(ptr, records.length, recordCount, baseOffset, outPtr);
      recordsResult(walked, 'keymapSelectLatest');
      return view(outPtr, recordCount).slice();
    } finally {
      core.arenaRewind(mark);
    }
  },

  /** xxHash64 of `bytes` with `seed`, unsigned: the key map's fingerprint function. */
  xxhash64(bytes: Uint8Array, seed = 0n): bigint {
    return BigInt.asUintN(64, keyCall(bytes, (ptr) => core.xxhash64(ptr, bytes.length, seed)));
  },

  /**
   * Position of the last entry whose leading big-endian int32 is <= target, or -1.
   * Copies the entries in: for repeated lookups keep them staged and use raw.indexFloor.
   */
  indexFloor(entries: Uint8Array, entryBytes: number, target: number): number {
    assert(entryBytes >= 4, `index entry of ${entryBytes} bytes has no int32 key`);
    const mark = core.arenaMark();
    try {
      const entryCount = Math.floor(entries.length / entryBytes);
      return core.indexFloor(stage(entries, 0, entryCount * entryBytes), entryCount, entryBytes, target);
    } finally {
      core.arenaRewind(mark);
    }
  },

  /** indexFloor for entries led by a big-endian int64 (the .timeindex timestamp). */
  indexFloorI64(entries: Uint8Array, entryBytes: number, target: bigint): number {
    assert(entryBytes >= 8, `index entry of ${entryBytes} bytes has no int64 key`);
    const mark = core.arenaMark();
    try {
      const entryCount = Math.floor(entries.length / entryBytes);
      return core.indexFloorI64(stage(entries, 0, entryCount * entryBytes), entryCount, entryBytes, target);
    } finally {
      core.arenaRewind(mark);
    }
  },
};
