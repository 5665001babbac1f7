/**
 * The record-level half of produce validation, after the header and CRC
 * passed: walks every record of an uncompressed batch in the WASM core
 * (lengths in bounds, offset deltas 0..n-1, count as declared), and for
 * compacted topics makes sure no record lacks a key, decompressing a
 * compressed batch for that one check as Kafka does. Compressed batches are
 * otherwise stored as sent: their CRC already covers the compressed bytes.
 */

import { FerryError } from '../errors.js';
import { LAST_OFFSET_DELTA_OFFSET, RECORDS_COUNT_OFFSET, RECORDS_OFFSET } from './record-batch.js';
import { recordsRegion } from './records.js';
import { WASM_BATCH_ERRORS, WASM_CHECK, batchErrorName, wasmCore } from './wasm-core.js';

export function checkRecordStructure(bytes: Buffer, at: number, size: number, compressed: boolean, requireKeys: boolean): void {
  const count = bytes.readInt32BE(at + RECORDS_COUNT_OFFSET);
  const lastOffsetDelta = bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
  const region = compressed ? (requireKeys ? recordsRegion(bytes, at) : null) : bytes.subarray(at + RECORDS_OFFSET, at + size);
  if (region === null) return;
  if (!compressed) {
    const status = wasmCore.validateRecords(region, count, lastOffsetDelta, WASM_CHECK.PRODUCED);
    if (status !== WASM_BATCH_ERRORS.OK) {
      const name = batchErrorName(status);
      const errorName = name === 'BAD_RECORD' ? 'CORRUPT_MESSAGE' : 'INVALID_RECORD';
      throw new FerryError(errorName, `record batch at byte ${at}: ${describe(name)}`);
    }
  }
  if (requireKeys && wasmCore.recordsHaveNullKey(region, count)) {
    throw new FerryError('INVALID_RECORD', 'a compacted topic needs a key on every record');
  }
}

function describe(name: string): string {
  switch (name) {
    case 'BAD_RECORD': return 'a record is malformed (a length or varint runs past its bounds)';
    case 'BAD_RECORD_COUNT': return 'the number of records does not match the header';
    case 'BAD_OFFSET_DELTA': return 'record offset deltas are not 0, 1, 2, ...';
    default: return name;
  }
}
