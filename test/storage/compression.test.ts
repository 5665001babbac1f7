import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { gzipSync, deflateSync } from 'node:zlib';
import { compressSync as snappyCompressRaw } from 'snappy';
import { compressFrameSync as lz4CompressFrame } from 'lz4-napi';
import { compress as zstdCompress } from 'zstd-napi';
import { compress, decompress, DECOMPRESSED_BYTES_MAX_DEFAULT } from '../../src/storage/compression.js';
import { CompressionCodec } from '../../src/storage/record-batch.js';
import { FerryError, type ErrorName } from '../../src/errors.js';

const require = createRequire(import.meta.url);

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
const kafkajsCompression = require('kafkajs/src/protocol/message/compression') as {
  Types: Record<string, number>;
  lookupCodec(type: number): KafkajsCodec | null;
};

const CODECS = [
  ['none', CompressionCodec.None],
  ['gzip', CompressionCodec.Gzip],
  ['snappy', CompressionCodec.Snappy],
  ['lz4', CompressionCodec.Lz4],
  ['zstd', CompressionCodec.Zstd],
] as const;

const COMPRESSING = CODECS.filter(([, codec]) => codec !== CompressionCodec.None);

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const LZ4_FRAME_MAGIC = 0x184d2204;
const ZSTD_FRAME_MAGIC = 0xfd2fb528;

function catchFerry(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    return error as FerryError;
  }
  throw new Error('expected a FerryError, nothing was thrown');
}

function expectFerry(fn: () => unknown, name: ErrorName, messagePart?: string): void {
  const error = catchFerry(fn);
  expect(error.errorName).toBe(name);
  if (messagePart !== undefined) expect(error.message).toContain(messagePart);
}

/** Compressible but not trivially: words from a small vocabulary. */
function textLike(bytes: number): Buffer {
  const words = ['ferry', 'kafka', 'record', 'batch', 'offset', 'partition', 'leader', 'epoch', '{"k":', '}\n'];
  const parts: string[] = [];
  let length = 0;
  let seed = 7;
  while (length < bytes) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const word = words[seed % words.length]!;
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

function xerial(blocks: Buffer[]): Buffer {
  const header = Buffer.alloc(16);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts: Buffer[] = [header];
  for (const block of blocks) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

describe('compress/decompress round trip', () => {
  const inputs: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([42])],
    ['random 100 KiB', randomBytes(100 * 1024)],
    ['text 1 MiB', textLike(1024 * 1024)],
    ['zeros 3 MiB', Buffer.alloc(3 * 1024 * 1024)],
  ];
  for (const [codecName, codec] of CODECS) {
    for (const [inputName, input] of inputs) {
      it(`${codecName}: ${inputName}`, () => {
        const compressed = compress(codec, input);
        expect(decompress(codec, compressed).equals(input)).toBe(true);
      });
    }
  }

  it('compressible input gets smaller', () => {
    const input = textLike(256 * 1024);
    for (const [, codec] of COMPRESSING) expect(compress(codec, input).length).toBeLessThan(input.length / 2);
  });
});

describe('gzip', () => {
  const codec = kafkajsCompression.lookupCodec(kafkajsCompression.Types.GZIP!)!;

  it('reads what kafkajs gzip writes, and kafkajs reads ours', async () => {
    const input = textLike(50_000);
    const theirs = await codec.compress({ buffer: input });
    expect(decompress(CompressionCodec.Gzip, theirs).equals(input)).toBe(true);
    const ours = compress(CompressionCodec.Gzip, input);
    expect((await codec.decompress(ours)).equals(input)).toBe(true);
  });

  it('writes RFC 1952 gzip and accepts concatenated members and zlib streams', () => {
    const ours = compress(CompressionCodec.Gzip, Buffer.from('x'));
    expect([ours[0], ours[1]]).toEqual([0x1f, 0x8b]);
    const twoMembers = Buffer.concat([gzipSync(Buffer.from('ab')), gzipSync(Buffer.from('cd'))]);
    expect(decompress(CompressionCodec.Gzip, twoMembers).toString()).toBe('abcd');
    expect(decompress(CompressionCodec.Gzip, deflateSync(Buffer.from('zlib'))).toString()).toBe('zlib');
  });
});

describe('snappy', () => {
  it('writes the xerial framing Kafka’s Java client writes: magic, version 1, compat 1, 32 KiB blocks', () => {
    const input = textLike(100 * 1024);
    const out = compress(CompressionCodec.Snappy, input);
    expect(out.subarray(0, 8).equals(XERIAL_MAGIC)).toBe(true);
    expect(out.readInt32BE(8)).toBe(1);
    expect(out.readInt32BE(12)).toBe(1);
    let at = 16;
    let blocks = 0;
    while (at < out.length) {
      at += 4 + out.readInt32BE(at);
      blocks++;
    }
    expect(at).toBe(out.length);
    expect(blocks).toBe(Math.ceil(input.length / (32 * 1024)));
  });

  it('empty input is a bare xerial header', () => {
    const out = compress(CompressionCodec.Snappy, Buffer.alloc(0));
    expect(out.length).toBe(16);
    expect(decompress(CompressionCodec.Snappy, out).length).toBe(0);
  });

  it('reads a hand-built xerial stream of raw snappy blocks', () => {
    const a = textLike(40_000);
    const b = randomBytes(5_000);
    const c = Buffer.from('tail');
    const framed = xerial([snappyCompressRaw(a), snappyCompressRaw(b), snappyCompressRaw(c)]);
    expect(decompress(CompressionCodec.Snappy, framed).equals(Buffer.concat([a, b, c]))).toBe(true);
  });

  it('reads raw snappy as librdkafka writes it', () => {
    const input = textLike(70_000);
    expect(decompress(CompressionCodec.Snappy, snappyCompressRaw(input)).equals(input)).toBe(true);
  });

  it('rejects a xerial block length running past the end, a truncated length, and a bad block', () => {
    const good = xerial([snappyCompressRaw(textLike(1000))]);
    expectFerry(() => decompress(CompressionCodec.Snappy, good.subarray(0, good.length - 3)), 'CORRUPT_MESSAGE', 'snappy');
    expectFerry(() => decompress(CompressionCodec.Snappy, Buffer.concat([good, Buffer.from([0, 0])])), 'CORRUPT_MESSAGE', 'snappy');
    const negative = Buffer.from(good);
    negative.writeInt32BE(-5, 16);
    expectFerry(() => decompress(CompressionCodec.Snappy, negative), 'CORRUPT_MESSAGE', 'snappy');
    expectFerry(() => decompress(CompressionCodec.Snappy, xerial([randomBytes(64)])), 'CORRUPT_MESSAGE', 'snappy');
    expectFerry(() => decompress(CompressionCodec.Snappy, XERIAL_MAGIC.subarray(0, 8)), 'CORRUPT_MESSAGE', 'snappy');
  });
});

describe('lz4', () => {
  it('writes a standard frame Kafka reads: magic 0x184D2204, version 1, independent blocks, 64 KiB..4 MiB blocks', () => {
    const out = compress(CompressionCodec.Lz4, textLike(10_000));
    expect(out.readUInt32LE(0)).toBe(LZ4_FRAME_MAGIC);
    const flg = out[4]!;
    const bd = out[5]!;
    expect(flg >> 6).toBe(1);
    expect(flg & 0x20).toBe(0x20); // KafkaLZ4BlockInputStream rejects dependent blocks
    expect(flg & 0x03).toBe(0); // no dictionary id, reserved bit clear
    expect((bd >> 4) & 7).toBeGreaterThanOrEqual(4);
    expect(bd & 0x8f).toBe(0);
  });

  it('reads frames from lz4-napi, with and without checksums', () => {
    const input = textLike(300_000);
    for (const options of [undefined, { contentChecksum: true }, { blockChecksums: true }, { contentChecksum: true, blockChecksums: true }]) {
      const frame = lz4CompressFrame(input, options);
      expect(frame.readUInt32LE(0)).toBe(LZ4_FRAME_MAGIC);
      expect(decompress(CompressionCodec.Lz4, frame).equals(input)).toBe(true);
    }
  });

  it('reads every frame of a concatenation and skips skippable frames', () => {
    const a = textLike(1000);
    const b = randomBytes(2000);
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const both = Buffer.concat([lz4CompressFrame(a), skippable, lz4CompressFrame(b)]);
    expect(decompress(CompressionCodec.Lz4, both).equals(Buffer.concat([a, b]))).toBe(true);
  });

  /** Rewrite a frame's descriptor; returns every header-checksum variant and which ones decode. */
  function withDescriptor(frame: Buffer, flg: number, extra: Buffer): Array<Buffer | null> {
    // lz4-napi frames have a 2-byte descriptor (no content size, no dict id), so HC sits at byte 6.
    const header = Buffer.concat([frame.subarray(0, 4), Buffer.from([flg, frame[5]!]), extra]);
    return Array.from({ length: 256 }, (_, hc) => {
      const candidate = Buffer.concat([header, Buffer.from([hc]), frame.subarray(7)]);
      try {
        return decompress(CompressionCodec.Lz4, candidate);
      } catch (error) {
        expect((error as FerryError).errorName).toBe('CORRUPT_MESSAGE');
        return null;
      }
    });
  }

  it('checks the header checksum: of 256 values exactly one is accepted', () => {
    const input = textLike(200_000);
    const frame = lz4CompressFrame(input);
    const results = withDescriptor(frame, frame[4]!, Buffer.alloc(0));
    const accepted = results.flatMap((result, hc) => (result === null ? [] : [hc]));
    expect(accepted).toEqual([frame[6]]);
  });

  it('reads a frame with a content size field', () => {
    const input = textLike(200_000);
    const frame = lz4CompressFrame(input);
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(input.length));
    const results = withDescriptor(frame, frame[4]! | 0x08, size).filter((result) => result !== null);
    expect(results).toHaveLength(1);
    expect(results[0]!.equals(input)).toBe(true);
  });

  it('hands a linked-block frame to lz4-napi’s frame decoder', () => {
    const input = textLike(300_000);
    const frame = lz4CompressFrame(input);
    const results = withDescriptor(frame, frame[4]! & ~0x20, Buffer.alloc(0)).filter((result) => result !== null);
    expect(results).toHaveLength(1);
    expect(results[0]!.equals(input)).toBe(true);
  });

  it('rejects truncation, trailing garbage, bad magic and a corrupted header checksum', () => {
    const frame = lz4CompressFrame(textLike(5000));
    expectFerry(() => decompress(CompressionCodec.Lz4, frame.subarray(0, frame.length - 6)), 'CORRUPT_MESSAGE', 'lz4');
    expectFerry(() => decompress(CompressionCodec.Lz4, Buffer.concat([frame, Buffer.from([1, 2, 3])])), 'CORRUPT_MESSAGE', 'lz4');
    expectFerry(() => decompress(CompressionCodec.Lz4, randomBytes(100)), 'CORRUPT_MESSAGE', 'lz4');
    const badHc = Buffer.from(frame);
    badHc[6] = badHc[6]! ^ 0xff; // the header checksum byte (no content size, no dict id)
    expectFerry(() => decompress(CompressionCodec.Lz4, badHc), 'CORRUPT_MESSAGE', 'lz4');
    const badBlock = Buffer.from(frame);
    for (let i = 11; i < badBlock.length - 4; i++) badBlock[i] = 0xff;
    expectFerry(() => decompress(CompressionCodec.Lz4, badBlock), 'CORRUPT_MESSAGE', 'lz4');
  });
});

describe('zstd', () => {
  it('writes and reads standard frames, with or without a content size, several in a row', () => {
    const input = textLike(200_000);
    const out = compress(CompressionCodec.Zstd, input);
    expect(out.readUInt32LE(0)).toBe(ZSTD_FRAME_MAGIC);
    const noSize = zstdCompress(input, { contentSizeFlag: false } as Parameters<typeof zstdCompress>[1]);
    expect(decompress(CompressionCodec.Zstd, noSize).equals(input)).toBe(true);
    const two = Buffer.concat([out, zstdCompress(Buffer.from('more'))]);
    expect(decompress(CompressionCodec.Zstd, two).equals(Buffer.concat([input, Buffer.from('more')]))).toBe(true);
  });

  it('rejects truncation, garbage and trailing bytes', () => {
    const out = compress(CompressionCodec.Zstd, textLike(20_000));
    expectFerry(() => decompress(CompressionCodec.Zstd, out.subarray(0, out.length - 5)), 'CORRUPT_MESSAGE', 'zstd');
    expectFerry(() => decompress(CompressionCodec.Zstd, randomBytes(64)), 'CORRUPT_MESSAGE', 'zstd');
    expectFerry(() => decompress(CompressionCodec.Zstd, Buffer.concat([out, Buffer.from([9, 9, 9])])), 'CORRUPT_MESSAGE', 'zstd');
    expectFerry(() => decompress(CompressionCodec.Zstd, Buffer.alloc(0)), 'CORRUPT_MESSAGE', 'zstd');
    // the shared context is usable after an error
    expect(decompress(CompressionCodec.Zstd, out).length).toBe(20_000);
  });
});

describe('corrupt input names the codec', () => {
  for (const [name, codec] of COMPRESSING) {
    it(name, () => {
      expectFerry(() => decompress(codec, Buffer.from('definitely not compressed data, not at all')), 'CORRUPT_MESSAGE', name);
      const good = compress(codec, textLike(10_000));
      expectFerry(() => decompress(codec, good.subarray(0, Math.floor(good.length / 2))), 'CORRUPT_MESSAGE', name);
    });
  }
});

describe('decompression bomb limit', () => {
  const MEBIBYTE = 1024 * 1024;
  const bomb = Buffer.alloc(16 * MEBIBYTE);

  it('defaults to 64 MiB', () => {
    expect(DECOMPRESSED_BYTES_MAX_DEFAULT).toBe(64 * MEBIBYTE);
  });

  it('none: nothing expands, so the input comes back as is', () => {
    expect(decompress(CompressionCodec.None, bomb, MEBIBYTE)).toBe(bomb);
  });

  for (const [name, codec] of COMPRESSING) {
    it(`${name}: over the limit is CORRUPT_MESSAGE, at the limit is fine`, () => {
      const compressed = compress(codec, bomb);
      expect(compressed.length).toBeLessThan(MEBIBYTE);
      expectFerry(() => decompress(codec, compressed, MEBIBYTE), 'CORRUPT_MESSAGE', 'limit');
      expect(decompress(codec, compressed, bomb.length).length).toBe(bomb.length);
    });
  }

  it('snappy: checks the declared length before decompressing, raw and xerial', () => {
    const raw = snappyCompressRaw(bomb);
    expectFerry(() => decompress(CompressionCodec.Snappy, raw, 1000), 'CORRUPT_MESSAGE', String(bomb.length));
    const framed = xerial([snappyCompressRaw(Buffer.alloc(600)), snappyCompressRaw(Buffer.alloc(600))]);
    expectFerry(() => decompress(CompressionCodec.Snappy, framed, 1000), 'CORRUPT_MESSAGE', 'limit');
    expect(decompress(CompressionCodec.Snappy, framed, 1200).length).toBe(1200);
  });

  it('snappy: a few bytes declaring more than they can encode are corrupt, before any allocation', () => {
    const liar = Buffer.from([0x80, 0x80, 0x80, 0x1e, 0x00, 0x01]); // declares 60 MiB in 6 bytes
    expectFerry(() => decompress(CompressionCodec.Snappy, liar), 'CORRUPT_MESSAGE', 'more than 6 bytes can encode');
  });

  it('zstd: refuses a frame whose declared content size is over the limit', () => {
    expectFerry(() => decompress(CompressionCodec.Zstd, zstdCompress(bomb), 1000), 'CORRUPT_MESSAGE', String(bomb.length));
  });
});

describe('unknown codecs', () => {
  for (const codec of [5, 6, 7]) {
    it(`codec ${codec} is UNSUPPORTED_COMPRESSION_TYPE`, () => {
      expectFerry(() => compress(codec as CompressionCodec, Buffer.from('x')), 'UNSUPPORTED_COMPRESSION_TYPE');
      expectFerry(() => decompress(codec as CompressionCodec, Buffer.from('x')), 'UNSUPPORTED_COMPRESSION_TYPE');
    });
  }
});
