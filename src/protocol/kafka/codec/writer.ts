/**
 * Big-endian writer into one growing Buffer: the primitives of the Kafka
 * wire protocol (encodings listed in reader.ts).
 *
 * One buffer, doubled when full; no per-field allocations. `finish()`
 * returns a subarray of it. Length prefixes whose value is only known after
 * the body (frame sizes, tagged-field sizes) are patched in place:
 * `writeInt32At` for fixed widths, `insertUnsignedVarintAt` for varints.
 *
 * Large record sets are not copied in: `writeRecords` keeps a reference to
 * them (an "external" chunk placed between two stretches of the writer's own
 * buffer), and `finishChunks()` returns the pieces in order for one corked
 * socket write — the Fetch path sends log bytes without copying them. A
 * record set still in its segment file (FileRecords) is placed the same way;
 * only `finishResponseChunks()` hands those out (the connection sends them
 * with sendfile), `finish()` and `finishChunks()` refuse them.
 */

import { assert } from '../../../errors.js';
import { FileRecords, type RecordSet, type ResponseChunk } from './file-records.js';

const INITIAL_BYTES = 256;
const INT16_MAX = 0x7fff;
const INT32_MAX = 0x7fffffff;
/** Record sets at least this large are written by reference; smaller ones are cheaper to copy than to send as their own chunk. */
export const EXTERNAL_CHUNK_BYTES_MIN = 4096;

interface ExternalChunk {
  /** The external bytes come right before the writer's own byte at this position. */
  at: number;
  bytes: ResponseChunk;
}

export class KafkaWriter {
  private buffer: Buffer;
  private position = 0;
  private readonly externals: ExternalChunk[] = [];
  private externalBytes = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.buffer = Buffer.allocUnsafe(Math.max(16, initialBytes));
  }

  get offset(): number {
    return this.position;
  }

  /** Every byte written so far, external chunks included. */
  get byteLength(): number {
    return this.position + this.externalBytes;
  }

  /**
   * The bytes written so far as one Buffer: a subarray of the internal buffer
   * when nothing was written by reference, else a copy joining the chunks.
   */
  finish(): Buffer {
    if (this.externals.length === 0) return this.buffer.subarray(0, this.position);
    // finishChunks refuses record sets still in their files.
    return Buffer.concat(this.finishChunks(), this.byteLength);
  }

  /** The bytes written so far, in order, as the writer's own stretches and the external chunks between them. */
  finishChunks(): Buffer[] {
    const chunks = this.finishResponseChunks();
    assert(chunks.every((chunk) => Buffer.isBuffer(chunk)), 'a record set in a file cannot be returned as bytes');
    return chunks as Buffer[];
  }

  /** As finishChunks, record sets left in their files (FileRecords) included as they are. */
  finishResponseChunks(): ResponseChunk[] {
    const chunks: ResponseChunk[] = [];
    let from = 0;
    for (const external of this.externals) {
      if (external.at > from) chunks.push(this.buffer.subarray(from, external.at));
      chunks.push(external.bytes);
      from = external.at;
    }
    if (this.position > from || chunks.length === 0) chunks.push(this.buffer.subarray(from, this.position));
    return chunks;
  }

  private ensure(byteCount: number): number {
    const needed = this.position + byteCount;
    if (needed > this.buffer.length) {
      let size = this.buffer.length * 2;
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      this.buffer.copy(grown, 0, 0, this.position);
      this.buffer = grown;
    }
    const at = this.position;
    this.position = needed;
    return at;
  }

  /**
   * One raw byte. (Every write takes its offset from `ensure` before touching
   * `this.buffer`: `ensure` may replace the buffer.)
   */
  private writeByte(value: number): void {
    const at = this.ensure(1);
    this.buffer[at] = value;
  }

  writeBool(value: boolean): this {
    this.writeByte(value ? 1 : 0);
    return this;
  }

  writeInt8(value: number): this {
    const at = this.ensure(1);
    this.buffer.writeInt8(value, at);
    return this;
  }

  writeInt16(value: number): this {
    const at = this.ensure(2);
    this.buffer.writeInt16BE(value, at);
    return this;
  }

  writeUint16(value: number): this {
    const at = this.ensure(2);
    this.buffer.writeUInt16BE(value, at);
    return this;
  }

  writeInt32(value: number): this {
    const at = this.ensure(4);
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  writeUint32(value: number): this {
    const at = this.ensure(4);
    this.buffer.writeUInt32BE(value, at);
    return this;
  }

  writeInt64(value: bigint | number): this {
    const at = this.ensure(8);
    this.buffer.writeBigInt64BE(BigInt(value), at);
    return this;
  }

  writeFloat64(value: number): this {
    const at = this.ensure(8);
    this.buffer.writeDoubleBE(value, at);
    return this;
  }

  writeUuid(value: Buffer): this {
    assert(value.length === 16, `uuid must be 16 bytes, got ${value.length}`);
    const at = this.ensure(16);
    value.copy(this.buffer, at);
    return this;
  }

  writeUnsignedVarint(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, `unsigned varint out of range: ${value}`);
    let rest = value;
    while (rest >= 0x80) {
      this.writeByte((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    this.writeByte(rest);
    return this;
  }

  writeUnsignedVarlong(value: bigint): this {
    let rest = BigInt.asUintN(64, value);
    while (rest >= 0x80n) {
      this.writeByte(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.writeByte(Number(rest));
    return this;
  }

  /** Zigzag-encoded signed int32. */
  writeVarint(value: number): this {
    return this.writeUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** Zigzag-encoded signed int64. */
  writeVarlong(value: bigint): this {
    const v = BigInt.asIntN(64, value);
    return this.writeUnsignedVarlong((v << 1n) ^ (v >> 63n));
  }

  private writeUtf8(value: string, length: number): void {
    const at = this.ensure(length);
    this.buffer.write(value, at, length, 'utf8');
  }

  writeNullableString(value: string | null): this {
    if (value === null) return this.writeInt16(-1);
    const length = Buffer.byteLength(value, 'utf8');
    assert(length <= INT16_MAX, `string of ${length} bytes exceeds int16 length`);
    this.writeInt16(length);
    this.writeUtf8(value, length);
    return this;
  }

  writeString(value: string): this {
    return this.writeNullableString(value);
  }

  writeCompactNullableString(value: string | null): this {
    if (value === null) return this.writeUnsignedVarint(0);
    const length = Buffer.byteLength(value, 'utf8');
    this.writeUnsignedVarint(length + 1);
    this.writeUtf8(value, length);
    return this;
  }

  writeCompactString(value: string): this {
    return this.writeCompactNullableString(value);
  }

  writeRaw(value: Buffer): this {
    const at = this.ensure(value.length);
    value.copy(this.buffer, at);
    return this;
  }

  /** `bytes` placed by reference, not copied: the caller must not change them before the chunks are written out. */
  writeExternal(bytes: Buffer): this {
    if (bytes.length < EXTERNAL_CHUNK_BYTES_MIN) return this.writeRaw(bytes);
    this.externals.push({ at: this.position, bytes });
    this.externalBytes += bytes.length;
    return this;
  }

  /** A `records` field (nullable bytes, compact in flexible versions), large record sets by reference. */
  writeRecords(value: RecordSet | null, compact: boolean): this {
    if (value === null) return compact ? this.writeUnsignedVarint(0) : this.writeInt32(-1);
    assert(value.length <= INT32_MAX, 'records exceed int32 length');
    if (compact) this.writeUnsignedVarint(value.length + 1);
    else this.writeInt32(value.length);
    if (!(value instanceof FileRecords)) return this.writeExternal(value);
    this.externals.push({ at: this.position, bytes: value });
    this.externalBytes += value.length;
    return this;
  }

  writeNullableBytes(value: Buffer | null): this {
    if (value === null) return this.writeInt32(-1);
    assert(value.length <= INT32_MAX, 'bytes exceed int32 length');
    return this.writeInt32(value.length).writeRaw(value);
  }

  writeBytes(value: Buffer): this {
    return this.writeNullableBytes(value);
  }

  writeCompactNullableBytes(value: Buffer | null): this {
    if (value === null) return this.writeUnsignedVarint(0);
    return this.writeUnsignedVarint(value.length + 1).writeRaw(value);
  }

  writeCompactBytes(value: Buffer): this {
    return this.writeCompactNullableBytes(value);
  }

  /** An array's count: -1 / 0 for null, plain int32 or compact uvarint count + 1. */
  writeArrayLength(count: number | null, compact: boolean): this {
    if (compact) return this.writeUnsignedVarint(count === null ? 0 : count + 1);
    return this.writeInt32(count === null ? -1 : count);
  }

  writeNullableArray<T>(values: readonly T[] | null, compact: boolean, writeElement: (writer: this, value: T) => void): this {
    this.writeArrayLength(values === null ? null : values.length, compact);
    if (values !== null) for (const value of values) writeElement(this, value);
    return this;
  }

  writeArray<T>(values: readonly T[], compact: boolean, writeElement: (writer: this, value: T) => void): this {
    return this.writeNullableArray(values, compact, writeElement);
  }

  /** An empty tagged-field section. */
  writeEmptyTaggedFields(): this {
    return this.writeUnsignedVarint(0);
  }

  /** Patches a fixed-width int32 (e.g. a frame size) written earlier. */
  writeInt32At(at: number, value: number): this {
    assert(at >= 0 && at + 4 <= this.position, `writeInt32At ${at} outside the ${this.position} bytes written`);
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  /**
   * Inserts an unsigned varint at `at`, shifting the bytes after it: for
   * sizes known only after the bytes they prefix (tagged fields).
   */
  insertUnsignedVarintAt(at: number, value: number): this {
    assert(at >= 0 && at <= this.position, `insert at ${at} outside the ${this.position} bytes written`);
    // Tagged fields never hold record sets, so nothing written by reference can sit after `at`.
    assert(this.externals.every((external) => external.at < at), 'varint inserted before an external chunk');
    const width = unsignedVarintBytes(value);
    const tailEnd = this.position;
    this.ensure(width);
    this.buffer.copyWithin(at + width, at, tailEnd);
    let rest = value;
    for (let i = 0; i < width - 1; i++) {
      this.buffer[at + i] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.buffer[at + width - 1] = rest;
    return this;
  }
}

export function unsignedVarintBytes(value: number): number {
  let width = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 128)) width++;
  return width;
}
