/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78) in plain TypeScript for
 * the client: browsers cannot load the broker's native addon, and the binary
 * produce frame carries batches whose CRC the client computes.
 *
 * Slicing-by-8 (Intel's table-driven method): eight 256-entry tables, eight
 * bytes per step with one table lookup per byte and no data-dependent
 * branches, several times the byte-at-a-time reference
 * (src/storage/crc32c-reference.ts, the test oracle). Pure: no Node built-ins.
 */

const CASTAGNOLI_REFLECTED = 0x82f63b78;
const TABLES = 8;
const TABLE_SIZE = 256;

/** TABLE[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const TABLE = (() => {
  const table = new Int32Array(TABLES * TABLE_SIZE);
  for (let n = 0; n < TABLE_SIZE; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    table[n] = c;
  }
  for (let k = 1; k < TABLES; k++) {
    for (let n = 0; n < TABLE_SIZE; n++) {
      const previous = table[(k - 1) * TABLE_SIZE + n]!;
      table[k * TABLE_SIZE + n] = (previous >>> 8) ^ table[previous & 0xff]!;
    }
  }
  return table;
})();

/** CRC32C of bytes[start, end), continuing from `crc` (0 for a fresh sum). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const t = TABLE;
  // Two little-endian 32-bit reads per step instead of eight byte reads: measured ~1.3x on V8.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let c = ~crc;
  let i = start;
  for (const last8 = end - 8; i <= last8; i += 8) {
    c ^= view.getInt32(i, true);
    const d = view.getInt32(i + 4, true);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + (d & 0xff)]! ^
      t[512 + ((d >>> 8) & 0xff)]! ^
      t[256 + ((d >>> 16) & 0xff)]! ^
      t[d >>> 24]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
