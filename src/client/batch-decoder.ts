/**
 * The client's own RecordBatch v2 decoder, for binary pushes: pure (DataView,
 * TextDecoder, and the web platform's DecompressionStream for gzip), so it
 * runs unchanged in browsers. The layout constants are the storage layer's
 * (record-batch.ts, which has no imports); the record grammar is the one
 * records.ts documents:
 *
 *   Record => length varint, attributes int8, timestampDelta varlong,
 *             offsetDelta varint, key (varint length, -1 null) bytes,
 *             value (varint length, -1 null) bytes, headerCount varint,
 *             [headerKey (varint length) utf8, headerValue (varint length, -1 null) bytes]
 *
 * Codecs: none and gzip. snappy, lz4 and zstd need native or large codecs; a
 * topic that uses them is read with encoding json (the broker decodes).
 *
 * Offsets and timestamps come out as numbers (exact below 2^53). Keys and
 * values are views into the frame, not copies. Every read is bounds-checked:
 * a malformed batch is CORRUPT_MESSAGE, never a RangeError. CRCs are not
 * checked: the broker validated each batch on append.
 */

import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CURRENT_MAGIC,
  CompressionCodec,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
} from '../storage/record-batch.js';
import { FerryClientError, corruptError } from './errors.js';

export interface BatchRecordHeader {
  key: string;
  value: Uint8Array | null;
}

export interface BatchRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: BatchRecordHeader[];
}

export interface DecodeOptions {
  /** Records below it (a push starts at the batch holding it) are skipped. */
  fromOffset: number;
  /** Bound on one batch's decompressed records. */
  decompressedBytesMax: number;
}

/** Same as the broker's default bound (compression.ts): Kafka's largest sane batch, with room. */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** length, attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount: a byte each at least. */
const RECORD_BYTES_MIN = 7;
const VARINT_BYTES_MAX = 5;
const VARLONG_BYTES_MAX = 10;
const TWO_TO_32 = 2 ** 32;

const utf8 = new TextDecoder();

/** Every record of the whole batches in `bytes` at or after `fromOffset`, control batches left out. */
export async function decodeRecordBatches(bytes: Uint8Array, options: DecodeOptions): Promise<BatchRecord[]> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: BatchRecord[] = [];
  for (let at = 0; at + LOG_OVERHEAD <= bytes.length; ) {
    const size = view.getInt32(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_BYTES) throw corruptError(`record batch at byte ${at} declares ${size} bytes, less than its ${BATCH_HEADER_BYTES}-byte header`);
    if (at + size > bytes.length) throw corruptError(`record batch at byte ${at} declares ${size} bytes but only ${bytes.length - at} are present`);
    await decodeBatch(bytes, view, at, size, options, records);
    at += size;
  }
  return records;
}

async function decodeBatch(bytes: Uint8Array, view: DataView, at: number, size: number, options: DecodeOptions, out: BatchRecord[]): Promise<void> {
  const magic = view.getInt8(at + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) throw corruptError(`record batch at byte ${at} has magic ${magic}, expected ${CURRENT_MAGIC}`);
  const attributes = view.getInt16(at + ATTRIBUTES_OFFSET);
  const baseOffset = int64(view, at + BASE_OFFSET_OFFSET);
  if ((attributes & CONTROL_FLAG_MASK) !== 0) return; // transaction markers: not records
  if (baseOffset + view.getInt32(at + LAST_OFFSET_DELTA_OFFSET) < options.fromOffset) return;
  const recordCount = view.getInt32(at + RECORDS_COUNT_OFFSET);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const timestampBase = int64(view, at + (logAppendTime ? MAX_TIMESTAMP_OFFSET : BASE_TIMESTAMP_OFFSET));
  const region = await recordsRegion(bytes.subarray(at + RECORDS_OFFSET, at + size), attributes & COMPRESSION_CODEC_MASK, at, options.decompressedBytesMax);
  const cursor = new Cursor(region, `batch at byte ${at}`);
  if (recordCount < 0 || recordCount > region.length / RECORD_BYTES_MIN) throw cursor.fail(`record count ${recordCount} cannot fit in ${region.length} bytes`);
  for (let i = 0; i < recordCount; i++) {
    const record = decodeRecord(cursor, baseOffset, timestampBase, logAppendTime);
    if (record.offset >= options.fromOffset) out.push(record);
  }
  if (cursor.pos !== region.length) throw cursor.fail(`${region.length - cursor.pos} bytes left over after ${recordCount} records`);
}

function decodeRecord(cursor: Cursor, baseOffset: number, timestampBase: number, logAppendTime: boolean): BatchRecord {
  const length = cursor.varint('record length');
  if (length < 0 || length > cursor.end - cursor.pos) throw cursor.fail(`record length ${length} runs past the end`);
  const recordEnd = cursor.pos + length;
  const outerEnd = cursor.end;
  cursor.end = recordEnd; // fields may not run into the next record
  cursor.skip(1, 'record attributes');
  const timestampDelta = cursor.varlong('record timestampDelta');
  const offsetDelta = cursor.varint('record offsetDelta');
  const key = cursor.nullableBytes('record key');
  const value = cursor.nullableBytes('record value');
  const headerCount = cursor.varint('header count');
  if (headerCount < 0 || headerCount > (cursor.end - cursor.pos) / 2) throw cursor.fail(`header count ${headerCount} cannot fit`);
  const headers: BatchRecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const headerKey = cursor.bytes(cursor.varint('header key length'), 'header key');
    headers.push({ key: utf8.decode(headerKey), value: cursor.nullableBytes('header value') });
  }
  if (cursor.pos !== recordEnd) throw cursor.fail(`record declares ${length} bytes but its fields end ${recordEnd - cursor.pos} bytes early`);
  cursor.end = outerEnd;
  return { offset: baseOffset + offsetDelta, timestamp: logAppendTime ? timestampBase : timestampBase + timestampDelta, key, value, headers };
}

async function recordsRegion(region: Uint8Array, codec: number, at: number, decompressedBytesMax: number): Promise<Uint8Array> {
  if (codec === CompressionCodec.None) return region;
  if (codec === CompressionCodec.Gzip) return gunzip(region, decompressedBytesMax, at);
  throw new FerryClientError(
    'UNSUPPORTED_COMPRESSION_TYPE',
    `record batch at byte ${at} uses compression codec ${codec}; the client decodes none and gzip: subscribe with encoding json for this topic`,
    false,
  );
}

/** gzip through the web platform's DecompressionStream, stopping at `bytesMax`. */
async function gunzip(compressed: Uint8Array, bytesMax: number, at: number): Promise<Uint8Array> {
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(compressed);
      controller.close();
    },
  });
  const reader = input.pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > bytesMax) throw corruptError(`gzip records of batch at byte ${at} inflate past ${bytesMax} bytes`);
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error instanceof FerryClientError ? error : corruptError(`gzip records of batch at byte ${at} do not inflate: ${(error as Error).message}`);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function int64(view: DataView, at: number): number {
  return view.getInt32(at) * TWO_TO_32 + view.getUint32(at + 4);
}

/** Bounds-checked reads of the record grammar from bytes[pos, end). */
class Cursor {
  pos = 0;
  end: number;

  constructor(
    private readonly buf: Uint8Array,
    private readonly context: string,
  ) {
    this.end = buf.length;
  }

  fail(what: string): FerryClientError {
    return corruptError(`${what} at byte ${this.pos} of the records of the ${this.context}`);
  }

  skip(count: number, what: string): void {
    if (count > this.end - this.pos) throw this.fail(`${what} runs past the end`);
    this.pos += count;
  }

  /** Zigzag varint, at most 5 bytes. */
  varint(what: string): number {
    let raw = 0;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.pos >= this.end) throw this.fail(`${what} runs past the end`);
      const byte = this.buf[this.pos++]!;
      raw |= (byte & 0x7f) << (7 * i);
      if ((byte & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
    }
    throw this.fail(`${what} is longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /** Zigzag varlong, at most 10 bytes, as a number (timestamp deltas are far below 2^53). */
  varlong(what: string): number {
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
      if (this.pos >= this.end) throw this.fail(`${what} runs past the end`);
      const byte = this.buf[this.pos++]!;
      raw += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      scale *= 128;
    }
    throw this.fail(`${what} is longer than ${VARLONG_BYTES_MAX} bytes`);
  }

  bytes(length: number, what: string): Uint8Array {
    if (length < 0 || length > this.end - this.pos) throw this.fail(`${what} length ${length} runs past the end`);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  nullableBytes(what: string): Uint8Array | null {
    const length = this.varint(what);
    return length === -1 ? null : this.bytes(length, what);
  }
}
