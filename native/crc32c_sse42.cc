// CRC32C on the SSE4.2 `crc32` instruction, with the run-time CPU check and the
// dispatch between hardware and software.
//
// Only the functions marked with the sse4.2 target attribute use the
// instruction, so the addon is built without -msse4.2 and still loads on any
// x86-64; Crc32cHardwareSupported() decides at run time.
//
// Why three streams: `crc32` has a latency of 3 cycles but issues once a cycle,
// so one dependent chain runs at a third of the CPU's rate. A long input is
// cut into three adjacent blocks of kBlockBytes, summed in parallel, and the
// sums are joined: crc(A || B) = shift(crc(A), |B|) ^ crc(B), on the raw
// (unconditioned) register, where shift multiplies by x^(8|B|) modulo the
// polynomial. The shift for a fixed |B| is linear in the register, so it is four
// 256-entry tables, one per register byte, built at compile time.
#include <array>
#include <cstring>

#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace ferry {
namespace {

#if defined(__x86_64__)

// Block sizes for the three-stream loops: long blocks amortise the join, short
// blocks keep inputs of a few KiB (typical batches) on three streams too.
constexpr size_t kLongBlockBytes = 8192;
constexpr size_t kShortBlockBytes = 256;

// A 32x32 matrix over GF(2): column j is the image of register bit j.
using Gf2Matrix = std::array<uint32_t, 32>;
using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;

constexpr uint32_t Gf2Times(const Gf2Matrix& matrix, uint32_t vector) {
  uint32_t sum = 0;
  for (int j = 0; vector != 0; j++, vector >>= 1) {
    if (vector & 1) sum ^= matrix[j];
  }
  return sum;
}

constexpr Gf2Matrix Gf2Multiply(const Gf2Matrix& left, const Gf2Matrix& right) {
  Gf2Matrix product{};
  for (int j = 0; j < 32; j++) product[j] = Gf2Times(left, right[j]);
  return product;
}

// The operator that feeds `zeroBytes` zero bytes through the raw register.
constexpr Gf2Matrix ZeroBytesOperator(size_t zeroBytes) {
  // One zero bit: shift right, folding the polynomial in when bit 0 was set.
  Gf2Matrix power{};
  power[0] = kCrc32cPolynomialReflected;
  for (int j = 1; j < 32; j++) power[j] = uint32_t{1} << (j - 1);
  Gf2Matrix result{};
  for (int j = 0; j < 32; j++) result[j] = uint32_t{1} << j;
  for (size_t bits = zeroBytes * 8; bits != 0; bits >>= 1) {
    if (bits & 1) result = Gf2Multiply(power, result);
    power = Gf2Multiply(power, power);
  }
  return result;
}

constexpr ShiftTables BuildShiftTables(size_t zeroBytes) {
  Gf2Matrix op = ZeroBytesOperator(zeroBytes);
  ShiftTables tables{};
  for (int k = 0; k < 4; k++) {
    for (uint32_t n = 0; n < 256; n++) tables[k][n] = Gf2Times(op, n << (8 * k));
  }
  return tables;
}

constexpr ShiftTables kLongShift = BuildShiftTables(kLongBlockBytes);
constexpr ShiftTables kShortShift = BuildShiftTables(kShortBlockBytes);

inline uint32_t Shift(const ShiftTables& tables, uint32_t crc) {
  return tables[0][crc & 0xFF] ^ tables[1][(crc >> 8) & 0xFF] ^ tables[2][(crc >> 16) & 0xFF] ^
         tables[3][crc >> 24];
}

__attribute__((target("sse4.2"))) inline uint64_t Load64(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

// Sums blocks of 3 * blockBytes from *data while enough remain, three streams
// at a time; returns the raw register.
template <size_t blockBytes>
__attribute__((target("sse4.2"))) inline uint64_t ThreeStreams(uint64_t crc0, const uint8_t*& data,
                                                               size_t& length,
                                                               const ShiftTables& shift) {
  while (length >= 3 * blockBytes) {
    uint64_t crc1 = 0;
    uint64_t crc2 = 0;
    const uint8_t* end = data + blockBytes;
    do {
      crc0 = _mm_crc32_u64(crc0, Load64(data));
      crc1 = _mm_crc32_u64(crc1, Load64(data + blockBytes));
      crc2 = _mm_crc32_u64(crc2, Load64(data + 2 * blockBytes));
      data += 8;
    } while (data < end);
    crc0 = Shift(shift, static_cast<uint32_t>(crc0)) ^ static_cast<uint32_t>(crc1);
    crc0 = Shift(shift, static_cast<uint32_t>(crc0)) ^ static_cast<uint32_t>(crc2);
    data += 2 * blockBytes;
    length -= 3 * blockBytes;
  }
  return crc0;
}

#endif  // __x86_64__

}  // namespace

#if defined(__x86_64__)

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* data,
                                                          size_t length) {
  uint64_t c = ~crc;
  // Aligned words, so no load straddles a cache line.
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
    length--;
  }
  c = ThreeStreams<kLongBlockBytes>(c, data, length, kLongShift);
  c = ThreeStreams<kShortBlockBytes>(c, data, length, kShortShift);
  while (length >= 8) {
    c = _mm_crc32_u64(c, Load64(data));
    data += 8;
    length -= 8;
  }
  while (length > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
    length--;
  }
  return ~static_cast<uint32_t>(c);
}

bool Crc32cHardwareSupported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

#else  // not x86-64: no hardware path yet.

uint32_t Crc32cHardware(uint32_t crc, const uint8_t* data, size_t length) {
  return Crc32cSoftware(crc, data, length);
}

bool Crc32cHardwareSupported() { return false; }

#endif

namespace {
using Crc32cFunction = uint32_t (*)(uint32_t, const uint8_t*, size_t);
const Crc32cFunction kCrc32cBest = Crc32cHardwareSupported() ? Crc32cHardware : Crc32cSoftware;
}  // namespace

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length) {
  return kCrc32cBest(crc, data, length);
}

}  // namespace ferry
