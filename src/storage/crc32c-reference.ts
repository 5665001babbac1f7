/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78) in plain TypeScript.
 *
 * The reference implementation: the oracle the native and WASM versions are
 * tested against, and the baseline they are benchmarked against. It is also the
 * last fallback when neither loads. Byte-at-a-time table lookup, kept simple on
 * purpose so it is obviously right.
 */

const CASTAGNOLI_REFLECTED = 0x82f63b78;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C of bytes[start, end), continuing from `crc` (0 for a fresh sum). */
export function crc32cReference(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
