// Argument checks shared by the bindings. Every number and byte range that
// comes from JavaScript passes through here before it reaches a syscall, so no
// binding can read or write outside a caller's buffer. Wrong types throw
// TypeError, wrong values RangeError, and the message names the function and
// the argument.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace ferry {

// The largest integer a JavaScript number holds exactly: 2^53 - 1. Positions
// and lengths above it cannot have come from exact arithmetic.
constexpr double kSafeIntegerMax = 9007199254740991.0;

// The bytes of a Uint8Array (or Buffer), without copying. Valid only during the
// synchronous call that received it.
struct ByteSpan {
  uint8_t* data;
  size_t length;
};

// False when `value` is not a Uint8Array (nothing thrown).
bool TryToBytes(napi_env env, napi_value value, ByteSpan* out);

// `value` must be a Uint8Array.
ByteSpan ToBytes(napi_env env, napi_value value, const char* function, const char* name);
ByteSpan GetBytes(const Napi::CallbackInfo& info, size_t index, const char* function,
                  const char* name);

// An open file descriptor's number: an integer in [0, 2^31 - 1].
int GetFd(const Napi::CallbackInfo& info, size_t index, const char* function, const char* name);

// A position, offset or length: an integer in [0, 2^53 - 1].
uint64_t GetSafeIndex(const Napi::CallbackInfo& info, size_t index, const char* function,
                      const char* name);

// As GetSafeIndex, with `fallback` when the argument is absent or undefined.
uint64_t GetOptionalSafeIndex(const Napi::CallbackInfo& info, size_t index, const char* function,
                              const char* name, uint64_t fallback);

// A running CRC: an integer in [-2^31, 2^32 - 1], taken modulo 2^32 so both
// `crc >>> 0` and `crc | 0` forms are accepted. Absent or undefined means 0.
uint32_t GetOptionalCrc(const Napi::CallbackInfo& info, size_t index, const char* function,
                        const char* name);

// Throws RangeError unless start <= end <= length.
void CheckRange(Napi::Env env, uint64_t start, uint64_t end, size_t length, const char* function,
                const char* startName, const char* endName);

}  // namespace ferry
