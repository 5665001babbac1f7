import { describe, expect, it } from 'vitest';
import { KafkaReader } from '../../../src/protocol/kafka/codec/reader.js';
import { EXTERNAL_CHUNK_BYTES_MIN, KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import { FerryError } from '../../../src/errors.js';

function expectFerryError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FerryError);
  expect((caught as FerryError).errorName).toBe('INVALID_REQUEST');
}

describe('KafkaWriter / KafkaReader round trips', () => {
  it('round-trips every primitive across buffer growth', () => {
    const uuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const blob = Buffer.alloc(1000, 7);
    const w = new KafkaWriter(16);
    w.writeBool(true).writeInt8(-128).writeInt16(-32768).writeUint16(65535).writeInt32(-2147483648).writeUint32(0xffffffff);
    w.writeInt64(-9223372036854775808n).writeInt64(123).writeFloat64(Math.PI).writeUuid(uuid);
    for (const v of [0, 1, 127, 128, 16383, 16384, 0xffffffff]) w.writeUnsignedVarint(v);
    for (const v of [0, -1, 1, -2147483648, 2147483647]) w.writeVarint(v);
    for (const v of [0n, -1n, 9223372036854775807n, -9223372036854775808n]) w.writeVarlong(v);
    w.writeString('héllo').writeNullableString(null).writeCompactString('').writeCompactNullableString(null).writeCompactString('ünï');
    w.writeBytes(blob).writeNullableBytes(null).writeCompactBytes(Buffer.from([1, 2])).writeCompactNullableBytes(null);
    w.writeArray([1, 2, 3], false, (ww, v) => ww.writeInt32(v)).writeNullableArray(null, false, () => {});
    w.writeArray(['a', 'b'], true, (ww, v) => ww.writeCompactString(v)).writeNullableArray(null, true, () => {});
    w.writeEmptyTaggedFields();
    const out = w.finish();

    const r = new KafkaReader(out);
    expect(r.readBool()).toBe(true);
    expect(r.readInt8()).toBe(-128);
    expect(r.readInt16()).toBe(-32768);
    expect(r.readUint16()).toBe(65535);
    expect(r.readInt32()).toBe(-2147483648);
    expect(r.readUint32()).toBe(0xffffffff);
    expect(r.readInt64()).toBe(-9223372036854775808n);
    expect(r.readInt64Number()).toBe(123);
    expect(r.readFloat64()).toBe(Math.PI);
    expect(r.readUuid()).toEqual(uuid);
    for (const v of [0, 1, 127, 128, 16383, 16384, 0xffffffff]) expect(r.readUnsignedVarint()).toBe(v);
    for (const v of [0, -1, 1, -2147483648, 2147483647]) expect(r.readVarint()).toBe(v);
    for (const v of [0n, -1n, 9223372036854775807n, -9223372036854775808n]) expect(r.readVarlong()).toBe(v);
    expect(r.readString()).toBe('héllo');
    expect(r.readNullableString()).toBeNull();
    expect(r.readCompactString()).toBe('');
    expect(r.readCompactNullableString()).toBeNull();
    expect(r.readCompactString()).toBe('ünï');
    const bytes = r.readBytes();
    expect(bytes).toEqual(blob);
    expect(bytes.buffer).toBe(out.buffer); // zero-copy
    expect(r.readNullableBytes()).toBeNull();
    expect(r.readCompactBytes()).toEqual(Buffer.from([1, 2]));
    expect(r.readCompactNullableBytes()).toBeNull();
    expect(r.readArray(false, (rr) => rr.readInt32())).toEqual([1, 2, 3]);
    expect(r.readNullableArray(false, (rr) => rr.readInt32())).toBeNull();
    expect(r.readArray(true, (rr) => rr.readCompactString())).toEqual(['a', 'b']);
    expect(r.readNullableArray(true, (rr) => rr.readInt32())).toBeNull();
    r.readTaggedFields();
    expect(r.remaining).toBe(0);
  });

  it('skips unknown tagged fields and reads known ones', () => {
    const w = new KafkaWriter();
    w.writeUnsignedVarint(2);
    w.writeUnsignedVarint(0).writeUnsignedVarint(3).writeRaw(Buffer.from([9, 9, 9]));
    w.writeUnsignedVarint(5);
    const start = w.offset;
    w.writeInt32(42);
    w.insertUnsignedVarintAt(start, w.offset - start);
    w.writeInt8(77);
    const r = new KafkaReader(w.finish());
    const seen: number[] = [];
    r.readTaggedFields((tag, tr) => {
      if (tag !== 5) return false;
      seen.push(tr.readInt32());
      return true;
    });
    expect(seen).toEqual([42]);
    expect(r.readInt8()).toBe(77);
  });

  it('insertUnsignedVarintAt shifts multi-byte sizes correctly', () => {
    const w = new KafkaWriter(16);
    w.writeInt8(1);
    const start = w.offset;
    w.writeRaw(Buffer.alloc(300, 5));
    w.insertUnsignedVarintAt(start, 300);
    const r = new KafkaReader(w.finish());
    expect(r.readInt8()).toBe(1);
    expect(r.readUnsignedVarint()).toBe(300);
    expect(r.subReader(300).readInt8()).toBe(5);
    expect(r.remaining).toBe(0);
  });
});

describe('KafkaWriter record sets by reference', () => {
  it('keeps large record sets as their own chunks, in order, and copies small ones', () => {
    const big = Buffer.alloc(EXTERNAL_CHUNK_BYTES_MIN, 7);
    const small = Buffer.from('tiny');
    const writer = new KafkaWriter(8);
    writer.writeInt32(0);
    writer.writeRecords(big, false);
    writer.writeInt16(42);
    writer.writeRecords(small, true);
    writer.writeRecords(null, false);
    writer.writeRecords(big, true);
    writer.writeInt32At(0, writer.byteLength - 4);
    const chunks = writer.finishChunks();
    expect(chunks.filter((chunk) => chunk === big)).toHaveLength(2); // by reference, not copied
    const joined = writer.finish();
    expect(joined.length).toBe(writer.byteLength);
    expect(Buffer.concat(chunks)).toEqual(joined);
    const reader = new KafkaReader(joined);
    expect(reader.readInt32()).toBe(joined.length - 4);
    expect(reader.readNullableBytes()).toEqual(big);
    expect(reader.readInt16()).toBe(42);
    expect(reader.readCompactNullableBytes()).toEqual(small);
    expect(reader.readNullableBytes()).toBeNull();
    expect(reader.readCompactNullableBytes()).toEqual(big);
    expect(reader.remaining).toBe(0);
  });
});

describe('KafkaReader rejects malformed input with FerryError', () => {
  const int32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return b;
  };
  const int16 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return b;
  };

  it('truncated fixed-width reads', () => {
    expectFerryError(() => new KafkaReader(Buffer.alloc(0)).readBool());
    expectFerryError(() => new KafkaReader(Buffer.alloc(1)).readInt16());
    expectFerryError(() => new KafkaReader(Buffer.alloc(3)).readInt32());
    expectFerryError(() => new KafkaReader(Buffer.alloc(7)).readInt64());
    expectFerryError(() => new KafkaReader(Buffer.alloc(7)).readFloat64());
    expectFerryError(() => new KafkaReader(Buffer.alloc(15)).readUuid());
    expectFerryError(() => new KafkaReader(Buffer.alloc(1)).peekInt16(0));
  });

  it('truncated and overlong varints', () => {
    expectFerryError(() => new KafkaReader(Buffer.from([0x80])).readUnsignedVarint());
    expectFerryError(() => new KafkaReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).readUnsignedVarint());
    expectFerryError(() => new KafkaReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])).readUnsignedVarint());
    expectFerryError(() => new KafkaReader(Buffer.alloc(11, 0xff)).readUnsignedVarlong());
    expectFerryError(() => new KafkaReader(Buffer.from([0x80, 0x80])).readVarlong());
  });

  it('length prefixes past the end (truncated, huge)', () => {
    expectFerryError(() => new KafkaReader(Buffer.concat([int16(5), Buffer.from('abc')])).readString());
    expectFerryError(() => new KafkaReader(int16(0x7fff)).readNullableString());
    expectFerryError(() => new KafkaReader(int32(0x7fffffff)).readNullableBytes());
    expectFerryError(() => new KafkaReader(Buffer.concat([int32(4), Buffer.alloc(3)])).readBytes());
    expectFerryError(() => new KafkaReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).readCompactBytes());
    expectFerryError(() => new KafkaReader(Buffer.from([10, 1, 2])).readCompactString());
    expectFerryError(() => new KafkaReader(int32(0x7fffffff)).readArray(false, (r) => r.readInt8()));
    expectFerryError(() => new KafkaReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).readArray(true, (r) => r.readInt8()));
    expectFerryError(() => new KafkaReader(Buffer.concat([int32(3), Buffer.from([1, 2])])).readArray(false, (r) => r.readInt8()));
    // A tagged field whose size runs past the end.
    expectFerryError(() => new KafkaReader(Buffer.from([1, 0, 50, 1])).readTaggedFields());
    expectFerryError(() => new KafkaReader(Buffer.from([0x80])).readTaggedFields());
  });

  it('negative lengths other than -1, and null where not nullable', () => {
    expectFerryError(() => new KafkaReader(int16(-2)).readNullableString());
    expectFerryError(() => new KafkaReader(int16(-32768)).readNullableString());
    expectFerryError(() => new KafkaReader(int32(-2)).readNullableBytes());
    expectFerryError(() => new KafkaReader(int32(-2147483648)).readNullableBytes());
    expectFerryError(() => new KafkaReader(int32(-5)).readNullableArray(false, (r) => r.readInt8()));
    expectFerryError(() => new KafkaReader(int16(-1)).readString());
    expectFerryError(() => new KafkaReader(int32(-1)).readBytes());
    expectFerryError(() => new KafkaReader(Buffer.from([0])).readCompactString());
    expectFerryError(() => new KafkaReader(int32(-1)).readArray(false, (r) => r.readInt8()));
  });

  it('sub-readers are bounded', () => {
    const r = new KafkaReader(Buffer.alloc(10));
    const sub = r.subReader(2);
    sub.readInt16();
    expectFerryError(() => sub.readInt8());
    expectFerryError(() => r.subReader(9));
  });
});
