/**
 * xxHash64 (Yann Collet's XXH64, little-endian reads), the key map's hash.
 *
 * Two runs with different seeds give the key map a 128-bit fingerprint per
 * key, so it stores no key bytes and a false match (which would make the
 * cleaner drop a live record) is a ~2^-128 event per pair of keys, the same
 * bar Kafka's cleaner sets with MD5.
 */

const PRIME1: u64 = 11400714785074694791;
const PRIME2: u64 = 14029467366897019727;
const PRIME3: u64 = 1609587929392839161;
const PRIME4: u64 = 9650029242287828579;
const PRIME5: u64 = 2870177450012600261;
const STRIPE_BYTES: usize = 32;

// @ts-ignore: decorator
@inline function round(accumulator: u64, input: u64): u64 {
  return rotl<u64>(accumulator + input * PRIME2, 31) * PRIME1;
}

// @ts-ignore: decorator
@inline function mergeRound(accumulator: u64, value: u64): u64 {
  return (accumulator ^ round(0, value)) * PRIME1 + PRIME4;
}

function stripes(ptr: usize, end: usize, seed: u64): u64 {
  let v1 = seed + PRIME1 + PRIME2;
  let v2 = seed + PRIME2;
  let v3 = seed;
  let v4 = seed - PRIME1;
  while (end - ptr >= STRIPE_BYTES) {
    v1 = round(v1, load<u64>(ptr));
    v2 = round(v2, load<u64>(ptr, 8));
    v3 = round(v3, load<u64>(ptr, 16));
    v4 = round(v4, load<u64>(ptr, 24));
    ptr += STRIPE_BYTES;
  }
  let h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
  h = mergeRound(h, v1);
  h = mergeRound(h, v2);
  h = mergeRound(h, v3);
  return mergeRound(h, v4);
}

export function xxhash64(ptr: usize, len: usize, seed: u64): u64 {
  let end = ptr + len;
  let h: u64;
  if (len >= STRIPE_BYTES) {
    h = stripes(ptr, end, seed);
    ptr += len & ~(STRIPE_BYTES - 1);
  } else {
    h = seed + PRIME5;
  }
  h += <u64>len;
  while (end - ptr >= 8) {
    h = rotl<u64>(h ^ round(0, load<u64>(ptr)), 27) * PRIME1 + PRIME4;
    ptr += 8;
  }
  if (end - ptr >= 4) {
    h = rotl<u64>(h ^ (<u64>load<u32>(ptr) * PRIME1), 23) * PRIME2 + PRIME3;
    ptr += 4;
  }
  while (ptr < end) {
    h = rotl<u64>(h ^ (<u64>load<u8>(ptr) * PRIME5), 11) * PRIME1;
    ptr++;
  }
  h ^= h >> 33;
  h *= PRIME2;
  h ^= h >> 29;
  h *= PRIME3;
  return h ^ (h >> 32);
}
