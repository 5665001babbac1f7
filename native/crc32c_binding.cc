// JavaScript bindings for CRC32C: crc32c(bytes, start?, end?, crc?), the same
// on the software path only (crc32cSoftware, for tests and benchmarks), and
// hasHardwareCrc32c. The bytes are read in place, never copied.
#include "args.h"
#include "bindings.h"
#include "crc32c.h"

namespace ferry {
namespace {

using Crc32cFunction = uint32_t (*)(uint32_t, const uint8_t*, size_t);

template <Crc32cFunction crc32c>
Napi::Value Crc32cBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "crc32c";
  ByteSpan bytes = GetBytes(info, 0, kName, "bytes");
  uint64_t start = GetOptionalSafeIndex(info, 1, kName, "start", 0);
  uint64_t end = GetOptionalSafeIndex(info, 2, kName, "end", bytes.length);
  uint32_t crc = GetOptionalCrc(info, 3, kName, "crc");
  CheckRange(info.Env(), start, end, bytes.length, kName, "start", "end");
  uint32_t sum = crc32c(crc, bytes.data + start, static_cast<size_t>(end - start));
  return Napi::Number::New(info.Env(), sum);
}

}  // namespace

void RegisterCrc32c(Napi::Env env, Napi::Object exports) {
  exports.Set("crc32c", Napi::Function::New<Crc32cBinding<Crc32c>>(env, "crc32c"));
  exports.Set("crc32cSoftware",
              Napi::Function::New<Crc32cBinding<Crc32cSoftware>>(env, "crc32cSoftware"));
  exports.Set("hasHardwareCrc32c", Napi::Boolean::New(env, Crc32cHardwareSupported()));
}

}  // namespace ferry
