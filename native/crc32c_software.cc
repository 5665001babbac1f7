// CRC32C in portable C++: slicing-by-8, the fallback when the CPU lacks SSE4.2
// and the second opinion the tests hold the hardware path against.
//
// Table k maps a byte to its CRC contribution when k more bytes follow it, so
// one step folds 8 input bytes with 8 independent lookups. The tables are
// built at compile time.
#include <array>
#include <cstring>

#include "crc32c.h"

namespace ferry {
namespace {

using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr SliceTables BuildSliceTables() {
  SliceTables tables{};
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int bit = 0; bit < 8; bit++) c = (c & 1) ? (c >> 1) ^ kCrc32cPolynomialReflected : c >> 1;
    tables[0][n] = c;
  }
  for (size_t k = 1; k < 8; k++) {
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t previous = tables[k - 1][n];
      tables[k][n] = (previous >> 8) ^ tables[0][previous & 0xFF];
    }
  }
  return tables;
}

constexpr SliceTables kSlice = BuildSliceTables();
// Spot checks against the published CRC32C table.
static_assert(kSlice[0][1] == 0xF26B8303u && kSlice[0][128] == kCrc32cPolynomialReflected,
              "CRC32C table does not match the Castagnoli polynomial");

inline uint32_t StepByte(uint32_t crc, uint8_t byte) {
  return kSlice[0][(crc ^ byte) & 0xFF] ^ (crc >> 8);
}

}  // namespace

uint32_t Crc32cSoftware(uint32_t crc, const uint8_t* data, size_t length) {
  uint32_t c = ~crc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = StepByte(c, *data++);
    length--;
  }
  while (length >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    uint32_t low = static_cast<uint32_t>(word) ^ c;
    uint32_t high = static_cast<uint32_t>(word >> 32);
    c = kSlice[7][low & 0xFF] ^ kSlice[6][(low >> 8) & 0xFF] ^ kSlice[5][(low >> 16) & 0xFF] ^
        kSlice[4][low >> 24] ^ kSlice[3][high & 0xFF] ^ kSlice[2][(high >> 8) & 0xFF] ^
        kSlice[1][(high >> 16) & 0xFF] ^ kSlice[0][high >> 24];
    data += 8;
    length -= 8;
  }
#endif
  while (length > 0) {
    c = StepByte(c, *data++);
    length--;
  }
  return ~c;
}

}  // namespace ferry
