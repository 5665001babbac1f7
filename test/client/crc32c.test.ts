/**
 * The client's slicing-by-8 CRC32C against the storage layer's byte-at-a-time
 * reference (the oracle): every alignment, length and continuation.
 */

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/client/crc32c.js';
import { crc32cReference } from '../../src/storage/crc32c-reference.js';

describe('client crc32c (slicing-by-8)', () => {
  it('gives the published check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('matches the reference at every start, end and length around the 8-byte steps, and continues a running sum', () => {
    const bytes = randomBytes(300);
    for (let start = 0; start < 17; start++) {
      for (let end = start; end <= bytes.length; end += start % 2 === 0 ? 1 : 7) {
        expect(crc32c(bytes, start, end)).toBe(crc32cReference(bytes, start, end));
      }
    }
    expect(crc32c(bytes, 100, 300, crc32c(bytes, 0, 100))).toBe(crc32cReference(bytes));
  });

  it('reads a view into a larger buffer from the view, not the buffer', () => {
    const backing = randomBytes(1 << 16);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, 40_001);
    expect(crc32c(view)).toBe(crc32cReference(view));
  });
});
