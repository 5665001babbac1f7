/**
 * What a record of bench/load.ts carries, and how the run accounts for every
 * one of them.
 *
 * A value is text, so every door carries it as is (JSON strings on the JSON
 * doors, bytes on the binary ones):
 *
 *   <due time, epoch ms, 3 decimals> ' ' <producer> ' ' <sequence> ' ' <'x' padding to the record size>
 *   1733459108123.457 1 4711 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...
 *
 * The due time is when the record was due on the producer's schedule (open
 * loop) or when its batch was built (closed loop): epoch ms, so a consumer
 * in another process can subtract it from its own clock. Producer and
 * sequence (from 0, one per record, per producer) name the record: each
 * consumer marks the ones it read in a bitmap per producer (SeenRecords),
 * and the parent merges the bitmaps to count records lost (acknowledged, not
 * read) and read twice (by one consumer, or by two).
 */

/** Longest stamp: 13 + 1 + 3 digits of due time, 2 of producer, 9 of sequence, 3 spaces. */
export const STAMP_BYTES_MAX = 32;
/** Producers and consumers of one run (a producer's number is two digits in the stamp). */
export const PROCESSES_MAX = 64;
/** Records one producer sends in a run: its sequence is nine digits, and a consumer's bitmap of it at most 32 MiB. */
export const SEQUENCES_MAX = 2 ** 28;

const SPACE = 0x20;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const BITMAP_BYTES_MIN = 1024;

export interface Stamp {
  dueMs: number;
  producer: number;
  sequence: number;
}

/** The value of record `sequence` of `producer`, due at `dueMs`, `valueBytes` long. */
export function stampedValue(dueMs: number, producer: number, sequence: number, valueBytes: number): string {
  return `${dueMs.toFixed(3)} ${producer} ${sequence} `.padEnd(valueBytes, 'x');
}

/** Where readDigits stopped: one past the character that ended its number. */
let cursor = 0;

/** The decimal number at `cursor`, ended by `end` (cursor moves past it); -1 when there is none. */
function readDigits(text: string | null, bytes: Uint8Array | null, length: number, end: number): number {
  const first = cursor;
  let number = 0;
  for (; cursor < length; cursor++) {
    const code = text !== null ? text.charCodeAt(cursor) : bytes![cursor]!;
    if (code === end) break;
    const digit = code - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    number = number * 10 + digit;
  }
  if (cursor === first || cursor === length) return -1;
  cursor++;
  return number;
}

/**
 * Reads a stamp into `into` from a value as bytes or as text; false when the
 * value does not start with one (not a record of this tool).
 */
export function readStamp(value: Uint8Array | string | null, into: Stamp): boolean {
  if (value === null) return false;
  const text = typeof value === 'string' ? value : null;
  const bytes = typeof value === 'string' ? null : value;
  const length = Math.min(value.length, STAMP_BYTES_MAX);
  cursor = 0;
  const wholeMs = readDigits(text, bytes, length, DOT);
  const fractionFirst = cursor;
  const fraction = readDigits(text, bytes, length, SPACE);
  const fractionDigits = cursor - 1 - fractionFirst;
  into.producer = readDigits(text, bytes, length, SPACE);
  into.sequence = readDigits(text, bytes, length, SPACE);
  if (wholeMs < 0 || fraction < 0 || into.producer < 0 || into.sequence < 0) return false;
  into.dueMs = wholeMs + fraction / 10 ** fractionDigits;
  return true;
}

/** Which records of each producer one consumer read: a bitmap per producer, grown as sequences arrive. */
export class SeenRecords {
  private readonly bitmaps: Uint8Array[];
  /** Records this consumer read more than once. */
  duplicates = 0;

  constructor(producers: number) {
    this.bitmaps = Array.from({ length: producers }, () => new Uint8Array(BITMAP_BYTES_MIN));
  }

  /** Marks record `sequence` of `producer` read; false when it was already (a duplicate), or is out of range. */
  mark(producer: number, sequence: number): boolean {
    let bitmap = this.bitmaps[producer];
    if (bitmap === undefined || sequence >= SEQUENCES_MAX) return false;
    const byte = sequence >>> 3;
    if (byte >= bitmap.length) {
      const grown = new Uint8Array(Math.min(SEQUENCES_MAX / 8, Math.max(bitmap.length * 2, byte + 1)));
      grown.set(bitmap);
      this.bitmaps[producer] = bitmap = grown;
    }
    const bit = 1 << (sequence & 7);
    if ((bitmap[byte]! & bit) !== 0) {
      this.duplicates++;
      return false;
    }
    bitmap[byte]! |= bit;
    return true;
  }

  /** Each producer's bitmap as base64, trailing zero bytes left out. */
  encode(): string[] {
    return this.bitmaps.map((bitmap) => {
      let end = bitmap.length;
      while (end > 0 && bitmap[end - 1] === 0) end--;
      return Buffer.from(bitmap.buffer, bitmap.byteOffset, end).toString('base64');
    });
  }
}

/** What one producer says it sent. */
export interface SentRecords {
  /** Sequences 0 .. sent - 1 were sent. */
  sent: number;
  /** Sequence ranges [first, first + count) whose requests failed: the broker may or may not have them. */
  failedRanges: Array<[first: number, count: number]>;
}

export interface RecordAccount {
  /** Sent and not failed: every one of these must be read, once. */
  expected: number;
  /** Distinct records read, of those expected. */
  consumed: number;
  /** Expected and read by no consumer. */
  lost: number;
  /** Reads beyond the first of a record: by the same consumer or by another. */
  duplicates: number;
  /** Read though its request failed (the broker had stored it anyway), or never sent at all. */
  unexpected: number;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let rest = byte; rest !== 0; rest >>= 1) bits += rest & 1;
  return bits;
});

function countBits(bitmap: Uint8Array, fromBit: number, toBit: number): number {
  let bits = 0;
  for (let bit = fromBit; bit < toBit && bit >>> 3 < bitmap.length; ) {
    if ((bit & 7) === 0 && bit + 8 <= toBit) {
      bits += POPCOUNT[bitmap[bit >>> 3]!]!;
      bit += 8;
    } else {
      bits += (bitmap[bit >>> 3]! >> (bit & 7)) & 1;
      bit++;
    }
  }
  return bits;
}

/**
 * Merges the consumers' bitmaps (SeenRecords.encode, one array per consumer)
 * against what the producers sent; `localDuplicates` is the sum of the
 * consumers' own duplicate counts.
 */
export function accountRecords(producers: readonly SentRecords[], consumers: ReadonlyArray<readonly string[]>, localDuplicates: number): RecordAccount {
  const account: RecordAccount = { expected: 0, consumed: 0, lost: 0, duplicates: localDuplicates, unexpected: 0 };
  producers.forEach((producer, index) => {
    const bitmaps = consumers.map((encoded) => new Uint8Array(Buffer.from(encoded[index] ?? '', 'base64')));
    const union = new Uint8Array(Math.max(0, ...bitmaps.map((bitmap) => bitmap.length)));
    let readBits = 0;
    for (const bitmap of bitmaps) {
      for (let byte = 0; byte < bitmap.length; byte++) union[byte]! |= bitmap[byte]!;
      readBits += countBits(bitmap, 0, bitmap.length * 8);
    }
    const unionBits = countBits(union, 0, union.length * 8);
    const failed = producer.failedRanges.reduce((sum, [, count]) => sum + count, 0);
    const readOfFailed = producer.failedRanges.reduce((sum, [first, count]) => sum + countBits(union, first, first + count), 0);
    const readBeyondSent = countBits(union, producer.sent, union.length * 8);
    const consumed = unionBits - readOfFailed - readBeyondSent;
    account.expected += producer.sent - failed;
    account.consumed += consumed;
    account.lost += producer.sent - failed - consumed;
    account.duplicates += readBits - unionBits;
    account.unexpected += readOfFailed + readBeyondSent;
  });
  return account;
}
