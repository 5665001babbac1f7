// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum Kafka's
// RecordBatch v2 carries over everything from `attributes` on.
//
// Every function takes and returns the finished (post-inverted) value, so a sum
// continues across calls: Crc32c(Crc32c(0, a), b) == Crc32c(0, a || b), and 0
// starts a fresh one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry {

constexpr uint32_t kCrc32cPolynomialReflected = 0x82F63B78u;

// Portable slicing-by-8 table lookup: 8 bytes per step, no CPU requirement.
uint32_t Crc32cSoftware(uint32_t crc, const uint8_t* data, size_t length);

// SSE4.2 `crc32` instruction, three interleaved streams on long inputs.
// Call only when Crc32cHardwareSupported() is true. Returns Crc32cSoftware's
// result on builds for CPUs other than x86-64.
uint32_t Crc32cHardware(uint32_t crc, const uint8_t* data, size_t length);

// True when this CPU executes SSE4.2, checked once at run time so the addon
// still loads (and falls back to software) on a CPU without it.
bool Crc32cHardwareSupported();

// The fastest of the two for this CPU, chosen once.
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length);

}  // namespace ferry
