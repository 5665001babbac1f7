/**
 * Kafka's classic (non-flexible) primitive types, big-endian, for the two
 * small binary formats the groups module owns: the __consumer_offsets
 * key/value records and the consumer protocol's subscription/assignment
 * bytes. Kept here rather than borrowed from the Kafka door's codec so the
 * broker core does not depend on a protocol adapter.
 *
 *   int16/int32/int64     big-endian two's complement
 *   string                int16 length, UTF-8 bytes (nullable: length -1 is null)
 *   bytes                 int32 length, bytes (nullable: length -1 is null)
 *   array                 int32 count, then the elements
 */

import { FerryError } from '../../errors.js';

const NULL_LENGTH = -1;

export class BinaryWriter {
  private readonly parts: Buffer[] = [];

  int16(value: number): this {
    const buf = Buffer.allocUnsafe(2);
    buf.writeInt16BE(value);
    this.parts.push(buf);
    return this;
  }

  int32(value: number): this {
    const buf = Buffer.allocUnsafe(4);
    buf.writeInt32BE(value);
    this.parts.push(buf);
    return this;
  }

  int64(value: bigint): this {
    const buf = Buffer.allocUnsafe(8);
    buf.writeBigInt64BE(value);
    this.parts.push(buf);
    return this;
  }

  string(value: string | null): this {
    if (value === null) return this.int16(NULL_LENGTH);
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0x7fff) throw new FerryError('INVALID_REQUEST', `string of ${bytes.length} bytes is longer than a Kafka string (32767)`);
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  bytes(value: Buffer | null): this {
    if (value === null) return this.int32(NULL_LENGTH);
    this.int32(value.length);
    this.parts.push(value);
    return this;
  }

  array<T>(items: readonly T[], writeItem: (item: T) => void): this {
    this.int32(items.length);
    for (const item of items) writeItem(item);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class BinaryReader {
  private pos = 0;

  /** `what` names the format in error messages, e.g. "consumer protocol subscription". */
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private take(bytes: number, field: string): number {
    if (bytes < 0 || this.pos + bytes > this.buf.length) {
      throw new FerryError('CORRUPT_MESSAGE', `${this.what}: ${field} needs ${bytes} bytes at byte ${this.pos} of ${this.buf.length}`);
    }
    const at = this.pos;
    this.pos += bytes;
    return at;
  }

  int16(field: string): number {
    return this.buf.readInt16BE(this.take(2, field));
  }

  int32(field: string): number {
    return this.buf.readInt32BE(this.take(4, field));
  }

  int64(field: string): bigint {
    return this.buf.readBigInt64BE(this.take(8, field));
  }

  nullableString(field: string): string | null {
    const length = this.int16(field);
    if (length === NULL_LENGTH) return null;
    const at = this.take(length, field);
    return this.buf.toString('utf8', at, at + length);
  }

  string(field: string): string {
    const value = this.nullableString(field);
    if (value === null) throw new FerryError('CORRUPT_MESSAGE', `${this.what}: ${field} is null`);
    return value;
  }

  nullableBytes(field: string): Buffer | null {
    const length = this.int32(field);
    if (length === NULL_LENGTH) return null;
    const at = this.take(length, field);
    return this.buf.subarray(at, at + length);
  }

  bytes(field: string): Buffer {
    return this.nullableBytes(field) ?? Buffer.alloc(0);
  }

  /** An array of `count` items; a count larger than the bytes left could hold is corrupt, not an allocation. */
  array<T>(field: string, itemBytesMin: number, readItem: () => T): T[] {
    const count = this.int32(field);
    if (count === NULL_LENGTH) return [];
    if (count < 0 || count * itemBytesMin > this.remaining) {
      throw new FerryError('CORRUPT_MESSAGE', `${this.what}: ${field} count ${count} does not fit in the ${this.remaining} bytes left`);
    }
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(readItem());
    return items;
  }
}
