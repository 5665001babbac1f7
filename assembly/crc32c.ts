/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-16.
 *
 * Same convention as src/storage/crc32c-reference.ts: crc32c(ptr, len, 0) is a
 * fresh sum, and passing a previous result continues it. Sixteen 256-entry
 * tables (16 KiB of static data, filled once at instantiation): table k maps a
 * byte to its contribution with k zero bytes following it, so one step folds
 * 16 input bytes with 16 independent lookups. WebAssembly has no CRC or
 * carry-less-multiply instruction, so table slicing is the fastest portable way.
 */

const CASTAGNOLI_REFLECTED: u32 = 0x82f63b78;
const TABLE_COUNT: i32 = 16;
const TABLE_BYTES: usize = 256 * 4;
const TABLES: usize = memory.data(TABLE_COUNT * <i32>TABLE_BYTES, 64);

function fillTables(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    store<u32>(TABLES + (<usize>n << 2), c);
  }
  for (let n: usize = 0; n < 256; n++) {
    let c = load<u32>(TABLES + (n << 2));
    for (let t: usize = 1; t < <usize>TABLE_COUNT; t++) {
      c = load<u32>(TABLES + (<usize>(c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(TABLES + t * TABLE_BYTES + (n << 2), c);
    }
  }
}
fillTables();

// Entry `index` (0..255) of table `t`; `t` is a constant so it folds into the load's offset.
// @ts-ignore: decorator
@inline function entry(t: usize, index: u32): u32 {
  return load<u32>(TABLES + t * TABLE_BYTES + (<usize>index << 2));
}

export function crc32c(ptr: usize, len: usize, crc: u32): u32 {
  let c = ~crc;
  let end = ptr + len;
  while (end - ptr >= 16) {
    let a = load<u32>(ptr) ^ c;
    let b = load<u32>(ptr, 4);
    let d = load<u32>(ptr, 8);
    let e = load<u32>(ptr, 12);
    c = entry(15, a & 0xff) ^ entry(14, (a >>> 8) & 0xff) ^ entry(13, (a >>> 16) & 0xff) ^ entry(12, a >>> 24)
      ^ entry(11, b & 0xff) ^ entry(10, (b >>> 8) & 0xff) ^ entry(9, (b >>> 16) & 0xff) ^ entry(8, b >>> 24)
      ^ entry(7, d & 0xff) ^ entry(6, (d >>> 8) & 0xff) ^ entry(5, (d >>> 16) & 0xff) ^ entry(4, d >>> 24)
      ^ entry(3, e & 0xff) ^ entry(2, (e >>> 8) & 0xff) ^ entry(1, (e >>> 16) & 0xff) ^ entry(0, e >>> 24);
    ptr += 16;
  }
  while (ptr < end) {
    c = entry(0, (c ^ <u32>load<u8>(ptr)) & 0xff) ^ (c >>> 8);
    ptr++;
  }
  return ~c;
}
