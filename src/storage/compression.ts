/**
 * Record-batch compression: the five codecs of Kafka's `attributes` bits 0-2,
 * byte-compatible with what real Kafka clients put inside a RecordBatch.
 *
 * Synchronous on purpose: callers run heavy work in the piscina pool, and a
 * worker gains nothing from awaiting a native call.
 *
 *   codec   on the wire (inside the batch, after the header)
 *   gzip    RFC 1952 gzip member(s). zlib-wrapped deflate is accepted too.
 *   snappy  xerial snappy-java stream (what the Java client and broker write):
 *             magic    8 bytes  0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *             version  int32 BE = 1
 *             compat   int32 BE = 1
 *             blocks   [int32 BE length][raw snappy block] ...
 *           or one raw snappy block (what librdkafka writes). Both are read;
 *           xerial is written (see SNAPPY_XERIAL_* below for why).
 *   lz4     LZ4 frame format, magic 0x184D2204 (little-endian on the wire),
 *           with the header checksum per spec: only pre-0.10 Kafka (magic 0/1)
 *           wrote the broken one, and Ferry stores magic 2 only.
 *   zstd    standard zstd frame(s).
 *
 * Decompression is bounded by `decompressedBytesMax`: a small batch must not
 * expand into gigabytes on the broker. Each codec checks the bound before it
 * allocates where the format says how large the output will be (snappy's
 * length preamble, lz4 block sizes, zstd's content size, zlib's
 * maxOutputLength) and checks the result after.
 */

import { gzipSync, unzipSync } from 'node:zlib';
import { compressSync as snappyCompressRaw, uncompressSync as snappyUncompressRaw } from 'snappy';
import {
  compressFrameSync as lz4CompressFrame,
  decompressFrameSync as lz4DecompressFrame,
  uncompressSync as lz4DecodeSizePrefixedBlock,
} from 'lz4-napi';
import { compress as zstdCompress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import type { DCtx as ZstdDecompressionContext } from 'zstd-napi/binding.js';
import { CompressionCodec } from './record-batch.js';
import { FerryError, assert } from '../errors.js';

const MEBIBYTE = 1024 * 1024;

/** Default bound on one batch's decompressed records; 64x Kafka's default max.message.bytes. */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 64 * MEBIBYTE;

const CODEC_NAMES: Readonly<Record<number, string>> = {
  [CompressionCodec.None]: 'none',
  [CompressionCodec.Gzip]: 'gzip',
  [CompressionCodec.Snappy]: 'snappy',
  [CompressionCodec.Lz4]: 'lz4',
  [CompressionCodec.Zstd]: 'zstd',
};

export function compressionCodecName(codec: number): string {
  return CODEC_NAMES[codec] ?? `unknown(${codec})`;
}

export function compress(codec: CompressionCodec, bytes: Buffer): Buffer {
  switch (codec) {
    case CompressionCodec.None:
      return bytes;
    case CompressionCodec.Gzip:
      return gzipSync(bytes);
    case CompressionCodec.Snappy:
      return snappyXerialCompress(bytes);
    case CompressionCodec.Lz4:
      // lz4-napi (lz4_flex) writes FLG 0x60 (version 1, independent blocks,
      // no checksums) and BD 0x70 (4 MiB blocks): a standard frame that Kafka's
      // KafkaLZ4BlockInputStream accepts (it requires independent blocks and a
      // block-size code of 4..7; its own writer uses 64 KiB).
      return lz4CompressFrame(bytes);
    case CompressionCodec.Zstd:
      return zstdCompress(bytes);
    default:
      throw unsupportedCodec(codec);
  }
}

/**
 * Decompress a batch's records region. Throws CORRUPT_MESSAGE naming the codec
 * on bad input, or when the output would exceed `decompressedBytesMax`. None
 * returns `bytes` itself: nothing expands, so there is nothing to bound.
 */
export function decompress(
  codec: CompressionCodec,
  bytes: Buffer,
  decompressedBytesMax: number = DECOMPRESSED_BYTES_MAX_DEFAULT,
): Buffer {
  let out: Buffer;
  switch (codec) {
    case CompressionCodec.None:
      return bytes;
    case CompressionCodec.Gzip:
      out = gzipDecompress(bytes, decompressedBytesMax);
      break;
    case CompressionCodec.Snappy:
      out = snappyDecompress(bytes, decompressedBytesMax);
      break;
    case CompressionCodec.Lz4:
      out = lz4Decompress(bytes, decompressedBytesMax);
      break;
    case CompressionCodec.Zstd:
      out = zstdDecompress(bytes, decompressedBytesMax);
      break;
    default:
      throw unsupportedCodec(codec);
  }
  if (out.length > decompressedBytesMax) throw tooLarge(codec, `${out.length} bytes`, decompressedBytesMax);
  return out;
}

function unsupportedCodec(codec: number): FerryError {
  return new FerryError('UNSUPPORTED_COMPRESSION_TYPE', `compression codec ${codec} is not one of none/gzip/snappy/lz4/zstd`);
}

function corrupt(codec: CompressionCodec, detail: string): FerryError {
  return new FerryError('CORRUPT_MESSAGE', `corrupt ${compressionCodecName(codec)} data in record batch: ${detail}`);
}

// Kafka has no "decompressed too large" code; a batch that claims to expand
// past the bound is treated as a malformed batch, which is what a bomb is.
function tooLarge(codec: CompressionCodec, why: string, decompressedBytesMax: number): FerryError {
  return new FerryError(
    'CORRUPT_MESSAGE',
    `${compressionCodecName(codec)} records exceed the decompressed limit of ${decompressedBytesMax} bytes: ${why}`,
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// --- gzip -------------------------------------------------------------------

function gzipDecompress(bytes: Buffer, decompressedBytesMax: number): Buffer {
  try {
    // unzip rather than gunzip: it auto-detects gzip and zlib headers, as
    // librdkafka's inflate does.
    return unzipSync(bytes, { maxOutputLength: Math.max(1, decompressedBytesMax) });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(CompressionCodec.Gzip, 'inflating stopped at the limit', decompressedBytesMax);
    }
    throw corrupt(CompressionCodec.Gzip, errorText(error));
  }
}

// --- snappy -----------------------------------------------------------------

/*
 * Why write xerial framing: Kafka's Java producer and the broker itself
 * (whenever it recompresses) write through xerial's SnappyOutputStream
 * (org.apache.kafka.common.compress.SnappyFactory.wrapForOutput), so it is
 * the one format every Kafka client must read. Java's SnappyInputStream does
 * also read a raw block (readHeader: no magic -> "compressed by
 * Snappy.compress", whole-buffer uncompress), which is how librdkafka's raw
 * output works with Java consumers, but third-party clients have shipped
 * xerial-only readers, and a raw-writing crate (kafka-protocol-rs#143) was
 * changed to xerial to match Java. Reading detects the magic.
 */
const SNAPPY_XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const SNAPPY_XERIAL_VERSION = 1;
const SNAPPY_XERIAL_COMPATIBLE_VERSION = 1;
const SNAPPY_XERIAL_HEADER_BYTES = SNAPPY_XERIAL_MAGIC.length + 4 + 4;
const SNAPPY_XERIAL_BLOCK_LENGTH_BYTES = 4;
/** snappy-java's SnappyOutputStream default block size, which Kafka uses. */
const SNAPPY_XERIAL_BLOCK_BYTES = 32 * 1024;

function snappyXerialCompress(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.allocUnsafe(SNAPPY_XERIAL_HEADER_BYTES);
  SNAPPY_XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(SNAPPY_XERIAL_VERSION, SNAPPY_XERIAL_MAGIC.length);
  header.writeInt32BE(SNAPPY_XERIAL_COMPATIBLE_VERSION, SNAPPY_XERIAL_MAGIC.length + 4);
  parts.push(header);
  let total = header.length;
  for (let start = 0; start < bytes.length; start += SNAPPY_XERIAL_BLOCK_BYTES) {
    const block = snappyCompressRaw(bytes.subarray(start, start + SNAPPY_XERIAL_BLOCK_BYTES));
    const length = Buffer.allocUnsafe(SNAPPY_XERIAL_BLOCK_LENGTH_BYTES);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
    total += length.length + block.length;
  }
  return Buffer.concat(parts, total);
}

function isSnappyXerial(bytes: Buffer): boolean {
  return bytes.length >= SNAPPY_XERIAL_MAGIC.length && SNAPPY_XERIAL_MAGIC.equals(bytes.subarray(0, SNAPPY_XERIAL_MAGIC.length));
}

function snappyDecompress(bytes: Buffer, decompressedBytesMax: number): Buffer {
  if (!isSnappyXerial(bytes)) return snappyRawBlock(bytes, 0, decompressedBytesMax);
  if (bytes.length < SNAPPY_XERIAL_HEADER_BYTES) {
    throw corrupt(CompressionCodec.Snappy, `xerial header truncated at ${bytes.length} bytes`);
  }
  const blocks: Buffer[] = [];
  let total = 0;
  let at = SNAPPY_XERIAL_HEADER_BYTES;
  while (at < bytes.length) {
    if (at + SNAPPY_XERIAL_BLOCK_LENGTH_BYTES > bytes.length) {
      throw corrupt(CompressionCodec.Snappy, `xerial block length truncated at byte ${at}`);
    }
    const length = bytes.readInt32BE(at);
    at += SNAPPY_XERIAL_BLOCK_LENGTH_BYTES;
    if (length < 0 || at + length > bytes.length) {
      throw corrupt(CompressionCodec.Snappy, `xerial block length ${length} at byte ${at - 4} runs past ${bytes.length}`);
    }
    const block = snappyRawBlock(bytes.subarray(at, at + length), at, decompressedBytesMax - total);
    blocks.push(block);
    total += block.length;
    at += length;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}

/**
 * Snappy's densest element is a 3-byte copy of 64 bytes, so no block expands
 * more than 64/3 times; a larger declared length is corrupt, and refusing it
 * keeps a few bytes from making the library allocate up to the limit.
 */
const SNAPPY_EXPANSION_MAX = 22;

/** Raw snappy starts with the uncompressed length as an unsigned LEB128 varint of at most 5 bytes. */
function snappyRawLength(block: Buffer, position: number): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) break;
    const byte = block[i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value;
  }
  throw corrupt(CompressionCodec.Snappy, `bad uncompressed-length preamble at byte ${position}`);
}

function snappyRawBlock(block: Buffer, position: number, decompressedBytesMax: number): Buffer {
  const length = snappyRawLength(block, position);
  if (length > block.length * SNAPPY_EXPANSION_MAX) {
    throw corrupt(CompressionCodec.Snappy, `block at byte ${position} declares ${length} bytes, more than ${block.length} bytes can encode`);
  }
  if (length > decompressedBytesMax) throw tooLarge(CompressionCodec.Snappy, `block at byte ${position} declares ${length} bytes`, decompressedBytesMax);
  try {
    return snappyUncompressRaw(block, { asBuffer: true }) as Buffer;
  } catch (error) {
    throw corrupt(CompressionCodec.Snappy, `block at byte ${position}: ${errorText(error)}`);
  }
}

// --- lz4 --------------------------------------------------------------------

/*
 * Frames are walked here rather than handed whole to lz4-napi, for three
 * reasons: its frame decoder reads one frame and silently ignores whatever
 * follows; it does not bound its output; and it is slow (about 4 ms per MiB
 * against 0.2 ms for its block decoder on the same data, measured with
 * lz4-napi 2.10.0). So the walk below checks the layout and the header
 * checksum, bounds the output from the block sizes, and decodes each block of
 * an independent-block frame (all Kafka clients write those: Kafka's own
 * reader rejects anything else) with the block decoder. A linked-block frame
 * goes to lz4-napi's frame decoder whole. Block and content checksums are not
 * verified on the block path: the batch CRC32C already covers these bytes,
 * and Kafka's reader skips the content checksum too.
 *
 *   magic        uint32  0x184D2204 (or skippable 0x184D2A50..5F + uint32 size)
 *   FLG          uint8   version(2) indep(1) blockChecksum(1) contentSize(1) contentChecksum(1) reserved(1) dictId(1)
 *   BD           uint8   reserved(1) blockMaxSizeCode(3) reserved(4)
 *   contentSize  uint64  if FLG.contentSize
 *   dictId       uint32  if FLG.dictId
 *   HC           uint8   (xxh32(FLG .. dictId, seed 0) >> 8) & 0xFF
 *   blocks       [uint32 size (bit 31 = stored uncompressed)][data][uint32 checksum if FLG.blockChecksum]
 *   endMark      uint32  0
 *   checksum     uint32  if FLG.contentChecksum
 *
 * All integers little-endian.
 */
const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50;
const LZ4_FLG_VERSION_SHIFT = 6;
const LZ4_FLG_VERSION = 1;
const LZ4_FLG_BLOCK_INDEPENDENCE = 0x20;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM = 0x04;
const LZ4_FLG_DICT_ID = 0x01;
const LZ4_BD_BLOCK_MAX_SHIFT = 4;
const LZ4_BD_BLOCK_MAX_MASK = 0x07;
const LZ4_BLOCK_UNCOMPRESSED_FLAG = 0x80000000;
/** An LZ4 sequence expands at most ~255x (match length bytes of 255 each). */
const LZ4_EXPANSION_MAX = 256;
/** lz4-napi's block decoder takes its input prefixed with an output size (a bound will do). */
const LZ4_SIZE_PREFIX_BYTES = 4;

interface Lz4Block {
  start: number;
  bytes: number;
  stored: boolean;
  decompressedBytesBound: number;
}

interface Lz4FrameWalk {
  end: number;
  decompressedBytesBound: number;
  skippable: boolean;
  independent: boolean;
  blocks: Lz4Block[];
}

function lz4WalkFrame(bytes: Buffer, start: number): Lz4FrameWalk {
  const need = (at: number, count: number, what: string): void => {
    if (at + count > bytes.length) throw corrupt(CompressionCodec.Lz4, `${what} truncated at byte ${at}`);
  };
  need(start, 4, 'frame magic');
  const magic = bytes.readUInt32LE(start);
  if (((magic & LZ4_SKIPPABLE_MAGIC_MASK) >>> 0) === LZ4_SKIPPABLE_MAGIC) {
    need(start + 4, 4, 'skippable frame size');
    const end = start + 8 + bytes.readUInt32LE(start + 4);
    need(start + 8, end - start - 8, 'skippable frame');
    return { end, decompressedBytesBound: 0, skippable: true, independent: true, blocks: [] };
  }
  if (magic !== LZ4_FRAME_MAGIC) {
    throw corrupt(CompressionCodec.Lz4, `bad frame magic 0x${magic.toString(16)} at byte ${start}`);
  }
  need(start + 4, 3, 'frame descriptor');
  const flg = bytes[start + 4]!;
  const bd = bytes[start + 5]!;
  if (flg >>> LZ4_FLG_VERSION_SHIFT !== LZ4_FLG_VERSION) {
    throw corrupt(CompressionCodec.Lz4, `unsupported frame version in FLG 0x${flg.toString(16)} at byte ${start + 4}`);
  }
  const blockMaxCode = (bd >>> LZ4_BD_BLOCK_MAX_SHIFT) & LZ4_BD_BLOCK_MAX_MASK;
  if (blockMaxCode < 4) {
    throw corrupt(CompressionCodec.Lz4, `bad block maximum size code ${blockMaxCode} at byte ${start + 5}`);
  }
  const blockBytesMax = 1 << (2 * blockMaxCode + 8);
  let at = start + 6;
  let contentBytes = -1;
  if (flg & LZ4_FLG_CONTENT_SIZE) {
    need(at, 8, 'frame content size');
    contentBytes = Number(bytes.readBigUInt64LE(at));
    at += 8;
  }
  if (flg & LZ4_FLG_DICT_ID) {
    need(at, 4, 'frame dictionary id');
    at += 4;
  }
  need(at, 1, 'frame header checksum');
  const headerChecksum = (xxh32Short(bytes, start + 4, at) >>> 8) & 0xff;
  if (bytes[at] !== headerChecksum) {
    throw corrupt(CompressionCodec.Lz4, `frame header checksum 0x${bytes[at]!.toString(16)} at byte ${at}, expected 0x${headerChecksum.toString(16)}`);
  }
  at += 1;
  const blockChecksumBytes = flg & LZ4_FLG_BLOCK_CHECKSUM ? 4 : 0;
  const blocks: Lz4Block[] = [];
  let bound = 0;
  for (;;) {
    need(at, 4, 'block size');
    const word = bytes.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const blockBytes = (word & ~LZ4_BLOCK_UNCOMPRESSED_FLAG) >>> 0;
    if (blockBytes > blockBytesMax) {
      throw corrupt(CompressionCodec.Lz4, `block of ${blockBytes} bytes at byte ${at - 4} exceeds the frame's ${blockBytesMax}`);
    }
    need(at, blockBytes + blockChecksumBytes, 'block');
    const stored = (word & LZ4_BLOCK_UNCOMPRESSED_FLAG) !== 0;
    const blockBound = stored ? blockBytes : Math.min(blockBytesMax, blockBytes * LZ4_EXPANSION_MAX);
    blocks.push({ start: at, bytes: blockBytes, stored, decompressedBytesBound: blockBound });
    bound += blockBound;
    at += blockBytes + blockChecksumBytes;
  }
  if (flg & LZ4_FLG_CONTENT_CHECKSUM) {
    need(at, 4, 'content checksum');
    at += 4;
  }
  return {
    end: at,
    decompressedBytesBound: contentBytes >= 0 ? Math.min(contentBytes, bound) : bound,
    skippable: false,
    independent: (flg & LZ4_FLG_BLOCK_INDEPENDENCE) !== 0,
    blocks,
  };
}

function lz4Decompress(bytes: Buffer, decompressedBytesMax: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  let at = 0;
  do {
    const walk = lz4WalkFrame(bytes, at);
    if (total + walk.decompressedBytesBound > decompressedBytesMax) {
      const why = `frame at byte ${at} may hold ${walk.decompressedBytesBound} bytes (bound from its block sizes) after ${total}`;
      throw tooLarge(CompressionCodec.Lz4, why, decompressedBytesMax);
    }
    if (walk.independent) {
      for (const block of walk.blocks) {
        const part = lz4DecodeBlock(bytes, block);
        parts.push(part);
        total += part.length;
      }
    } else {
      const frame = lz4DecodeFrame(bytes, at, walk.end);
      parts.push(frame);
      total += frame.length;
    }
    at = walk.end;
  } while (at < bytes.length);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

function lz4DecodeBlock(bytes: Buffer, block: Lz4Block): Buffer {
  if (block.stored) return bytes.subarray(block.start, block.start + block.bytes);
  const input = Buffer.allocUnsafe(LZ4_SIZE_PREFIX_BYTES + block.bytes);
  input.writeUInt32LE(block.decompressedBytesBound, 0);
  bytes.copy(input, LZ4_SIZE_PREFIX_BYTES, block.start, block.start + block.bytes);
  try {
    return lz4DecodeSizePrefixedBlock(input);
  } catch (error) {
    throw corrupt(CompressionCodec.Lz4, `block at byte ${block.start}: ${errorText(error)}`);
  }
}

function lz4DecodeFrame(bytes: Buffer, start: number, end: number): Buffer {
  try {
    return lz4DecompressFrame(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  } catch (error) {
    throw corrupt(CompressionCodec.Lz4, `frame at byte ${start}: ${errorText(error)}`);
  }
}

const XXH32_PRIME1 = 0x9e3779b1;
const XXH32_PRIME2 = 0x85ebca77;
const XXH32_PRIME3 = 0xc2b2ae3d;
const XXH32_PRIME4 = 0x27d4eb2f;
const XXH32_PRIME5 = 0x165667b1;
/** xxh32's input size below which it skips its four-lane loop. */
const XXH32_STRIPE_BYTES = 16;

function rotateLeft32(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

/** xxh32 with seed 0 of bytes[start, end), for inputs under 16 bytes: all an LZ4 frame descriptor needs. */
function xxh32Short(bytes: Buffer, start: number, end: number): number {
  assert(end - start < XXH32_STRIPE_BYTES, `xxh32Short takes under ${XXH32_STRIPE_BYTES} bytes, got ${end - start}`);
  let hash = (XXH32_PRIME5 + (end - start)) | 0;
  let at = start;
  for (; at + 4 <= end; at += 4) {
    hash = (hash + Math.imul(bytes.readUInt32LE(at), XXH32_PRIME3)) | 0;
    hash = Math.imul(rotateLeft32(hash, 17), XXH32_PRIME4);
  }
  for (; at < end; at++) {
    hash = (hash + Math.imul(bytes[at]!, XXH32_PRIME5)) | 0;
    hash = Math.imul(rotateLeft32(hash, 11), XXH32_PRIME1);
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, XXH32_PRIME2);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, XXH32_PRIME3);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

// --- zstd -------------------------------------------------------------------

/*
 * zstd-napi's one-shot decompress trusts the frame's content size for its
 * allocation and grows without bound when it is absent, so decoding goes
 * through the streaming context directly, into a buffer capped at
 * decompressedBytesMax + 1 (one byte over proves the limit is exceeded).
 */
const ZSTD_INITIAL_OUTPUT_BYTES_MIN = 64 * 1024;
/** Output guess per input byte when the frame does not declare its size. */
const ZSTD_INITIAL_EXPANSION = 4;
/**
 * A declared content size is trusted for the first allocation only up to this
 * ratio to the input, so a few corrupt bytes cannot make us allocate the whole
 * limit; beyond it the buffer grows as output actually arrives.
 */
const ZSTD_TRUSTED_EXPANSION_MAX = 64;

let zstdContext: ZstdDecompressionContext | undefined;

function zstdDecompress(bytes: Buffer, decompressedBytesMax: number): Buffer {
  let declaredBytes: number | null;
  try {
    declaredBytes = zstdBinding.getFrameContentSize(bytes);
  } catch (error) {
    throw corrupt(CompressionCodec.Zstd, errorText(error));
  }
  if (declaredBytes !== null && declaredBytes > decompressedBytesMax) {
    throw tooLarge(CompressionCodec.Zstd, `frame declares ${declaredBytes} bytes`, decompressedBytesMax);
  }
  const capacityMax = decompressedBytesMax + 1;
  const trustedBytesMax = Math.max(ZSTD_INITIAL_OUTPUT_BYTES_MIN, bytes.length * ZSTD_TRUSTED_EXPANSION_MAX);
  const guessBytes = Math.max(ZSTD_INITIAL_OUTPUT_BYTES_MIN, bytes.length * ZSTD_INITIAL_EXPANSION);
  let out = Buffer.allocUnsafe(Math.min(capacityMax, trustedBytesMax, declaredBytes ?? guessBytes));
  zstdContext ??= new zstdBinding.DCtx();
  const context = zstdContext;
  context.reset(zstdBinding.ResetDirective.sessionOnly);
  let written = 0;
  let consumed = 0;
  try {
    for (;;) {
      const [pendingHint, produced, used] = context.decompressStream(out.subarray(written), bytes.subarray(consumed));
      written += produced;
      consumed += used;
      if (pendingHint === 0 && consumed === bytes.length) break;
      if (written === out.length) {
        if (out.length >= capacityMax) throw tooLarge(CompressionCodec.Zstd, 'output reached the limit with more to come', decompressedBytesMax);
        const grown = Buffer.allocUnsafe(Math.min(capacityMax, Math.max(ZSTD_INITIAL_OUTPUT_BYTES_MIN, out.length * 2)));
        out.copy(grown, 0, 0, written);
        out = grown;
      } else if (consumed === bytes.length || (produced === 0 && used === 0)) {
        // Output has room and no input is left (or none was taken): the
        // last frame is incomplete.
        throw corrupt(CompressionCodec.Zstd, `frame truncated after ${consumed} of ${bytes.length} bytes`);
      }
    }
  } catch (error) {
    context.reset(zstdBinding.ResetDirective.sessionOnly);
    if (error instanceof FerryError) throw error;
    throw corrupt(CompressionCodec.Zstd, `at input byte ${consumed}: ${errorText(error)}`);
  }
  return written === out.length ? out : out.subarray(0, written);
}
