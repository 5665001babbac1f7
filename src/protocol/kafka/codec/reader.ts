/**
 * Bounds-checked big-endian reader over one Buffer: the primitives of the
 * Kafka wire protocol.
 *
 * Every length is checked against the bytes that remain before anything is
 * read or allocated, so a hostile length prefix (2^31-1, or negative other
 * than the -1 that means null) is a FerryError('INVALID_REQUEST'), never a
 * RangeError or a giant allocation. Bytes and records come back as
 * subarrays of the input (zero-copy): they pin the input buffer.
 *
 * Encodings:
 *   string         int16 length, then UTF-8 (-1 = null)
 *   compact string unsigned varint (length + 1), then UTF-8 (0 = null)
 *   bytes          int32 length (-1 = null); compact bytes: uvarint length + 1
 *   array          int32 count (-1 = null); compact array: uvarint count + 1
 *   tagged fields  uvarint count, then per field: uvarint tag, uvarint size, bytes
 */

import { FerryError } from '../../../errors.js';

/** An unsigned varint of an int32 takes at most 5 bytes; of an int64, 10. */
const VARINT_BYTES_MAX = 5;
const VARLONG_BYTES_MAX = 10;
export const UUID_BYTES = 16;

export class KafkaReader {
  private readonly buffer: Buffer;
  private position: number;
  private readonly end: number;

  constructor(buffer: Buffer, start = 0, end = buffer.length) {
    this.buffer = buffer;
    this.position = start;
    this.end = end;
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  /** Throws unless `byteCount` more bytes are there; returns where they start. */
  private take(byteCount: number, what: string): number {
    if (byteCount > this.end - this.position) {
      throw new FerryError(
        'INVALID_REQUEST',
        `${what}: needs ${byteCount} bytes at offset ${this.position}, only ${this.end - this.position} remain`,
      );
    }
    const at = this.position;
    this.position += byteCount;
    return at;
  }

  /** A reader over the next `byteCount` bytes; this reader moves past them. */
  subReader(byteCount: number, what = 'sub-reader'): KafkaReader {
    const at = this.take(byteCount, what);
    return new KafkaReader(this.buffer, at, at + byteCount);
  }

  skip(byteCount: number, what = 'skip'): void {
    this.take(byteCount, what);
  }

  /** An int16 `byteOffset` bytes ahead, without moving (the request header's API key and version). */
  peekInt16(byteOffset = 0): number {
    if (byteOffset < 0 || byteOffset + 2 > this.end - this.position) {
      throw new FerryError('INVALID_REQUEST', `peek int16 at +${byteOffset}: only ${this.end - this.position} bytes remain`);
    }
    return this.buffer.readInt16BE(this.position + byteOffset);
  }

  readBool(): boolean {
    return this.buffer[this.take(1, 'bool')] !== 0;
  }

  readInt8(): number {
    return this.buffer.readInt8(this.take(1, 'int8'));
  }

  readInt16(): number {
    return this.buffer.readInt16BE(this.take(2, 'int16'));
  }

  readUint16(): number {
    return this.buffer.readUInt16BE(this.take(2, 'uint16'));
  }

  readInt32(): number {
    return this.buffer.readInt32BE(this.take(4, 'int32'));
  }

  readUint32(): number {
    return this.buffer.readUInt32BE(this.take(4, 'uint32'));
  }

  readInt64(): bigint {
    return this.buffer.readBigInt64BE(this.take(8, 'int64'));
  }

  /** An int64 as a number; throws unless it is a safe integer. */
  readInt64Number(): number {
    const value = this.readInt64();
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new FerryError('INVALID_REQUEST', `int64 ${value} is not a safe integer`);
    }
    return Number(value);
  }

  readFloat64(): number {
    return this.buffer.readDoubleBE(this.take(8, 'float64'));
  }

  /** 16 bytes, copied so the result does not pin the input. */
  readUuid(): Buffer {
    const at = this.take(UUID_BYTES, 'uuid');
    return Buffer.from(this.buffer.subarray(at, at + UUID_BYTES));
  }

  readUnsignedVarint(): number {
    let value = 0;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const byte = this.buffer[this.take(1, 'varint')]!;
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new FerryError('INVALID_REQUEST', `varint at offset ${this.position} longer than 32 bits`);
  }

  readUnsignedVarlong(): bigint {
    let value = 0n;
    for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
      const byte = this.buffer[this.take(1, 'varlong')]!;
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffffffffffffn) break;
        return value;
      }
    }
    throw new FerryError('INVALID_REQUEST', `varlong at offset ${this.position} longer than 64 bits`);
  }

  /** Zigzag-encoded signed int32. */
  readVarint(): number {
    const raw = this.readUnsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zigzag-encoded signed int64. */
  readVarlong(): bigint {
    const raw = this.readUnsignedVarlong();
    return BigInt.asIntN(64, (raw >> 1n) ^ -(raw & 1n));
  }

  /** Throws on a negative length other than -1; returns -1 for null. */
  private checkLength(length: number, what: string): number {
    if (length < -1) throw new FerryError('INVALID_REQUEST', `${what}: negative length ${length} at offset ${this.position}`);
    return length;
  }

  private compactLength(): number {
    return this.readUnsignedVarint() - 1;
  }

  private utf8(length: number, what: string): string {
    const at = this.take(length, what);
    return this.buffer.toString('utf8', at, at + length);
  }

  readNullableString(): string | null {
    const length = this.checkLength(this.readInt16(), 'string');
    return length === -1 ? null : this.utf8(length, 'string');
  }

  readString(): string {
    return this.nonNull(this.readNullableString(), 'string');
  }

  readCompactNullableString(): string | null {
    const length = this.compactLength();
    return length === -1 ? null : this.utf8(length, 'compact string');
  }

  readCompactString(): string {
    return this.nonNull(this.readCompactNullableString(), 'compact string');
  }

  private slice(length: number, what: string): Buffer {
    const at = this.take(length, what);
    return this.buffer.subarray(at, at + length);
  }

  /** Zero-copy: a subarray of the input. */
  readNullableBytes(): Buffer | null {
    const length = this.checkLength(this.readInt32(), 'bytes');
    return length === -1 ? null : this.slice(length, 'bytes');
  }

  readBytes(): Buffer {
    return this.nonNull(this.readNullableBytes(), 'bytes');
  }

  readCompactNullableBytes(): Buffer | null {
    const length = this.compactLength();
    return length === -1 ? null : this.slice(length, 'compact bytes');
  }

  readCompactBytes(): Buffer {
    return this.nonNull(this.readCompactNullableBytes(), 'compact bytes');
  }

  /**
   * An element count, -1 for null. Each element takes at least one byte, so
   * a count above the bytes that remain is corrupt (checked before any
   * allocation, as Kafka does).
   */
  readArrayLength(compact: boolean): number {
    const count = compact ? this.compactLength() : this.checkLength(this.readInt32(), 'array');
    if (count > this.remaining) {
      throw new FerryError('INVALID_REQUEST', `array of ${count} elements at offset ${this.position}, only ${this.remaining} bytes remain`);
    }
    return count;
  }

  readNullableArray<T>(compact: boolean, readElement: (reader: KafkaReader) => T): T[] | null {
    const count = this.readArrayLength(compact);
    if (count === -1) return null;
    const out = new Array<T>(count);
    for (let i = 0; i < count; i++) out[i] = readElement(this);
    return out;
  }

  readArray<T>(compact: boolean, readElement: (reader: KafkaReader) => T): T[] {
    return this.nonNull(this.readNullableArray(compact, readElement), 'array');
  }

  /**
   * A tagged-field section. `onTag` reads a known tag from the sub-reader it
   * is given and returns true; unknown tags (false) are skipped.
   */
  readTaggedFields(onTag: (tag: number, reader: KafkaReader) => boolean = () => false): void {
    const count = this.readUnsignedVarint();
    let lastTag = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.readUnsignedVarint();
      if (tag <= lastTag) throw new FerryError('INVALID_REQUEST', `tagged field ${tag} out of order after ${lastTag}`);
      lastTag = tag;
      const size = this.readUnsignedVarint();
      const field = this.subReader(size, `tagged field ${tag}`);
      if (onTag(tag, field) && field.remaining !== 0) {
        throw new FerryError('INVALID_REQUEST', `tagged field ${tag}: ${field.remaining} bytes left unread`);
      }
    }
  }

  private nonNull<T>(value: T | null, what: string): T {
    if (value === null) throw new FerryError('INVALID_REQUEST', `${what} at offset ${this.position}: null where not nullable`);
    return value;
  }
}
