// Argument checks shared by the bindings (see args.h). Each check costs one
// Node-API call on the success path: the type test is the failed conversion.
#include "args.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace ferry {
namespace {

std::string Describe(const char* function, const char* name) {
  return std::string(function) + ": " + name;
}

[[noreturn]] void ThrowType(napi_env env, const char* function, const char* name,
                            const char* expected) {
  throw Napi::TypeError::New(env, Describe(function, name) + " must be " + expected);
}

[[noreturn]] void ThrowRange(napi_env env, const char* function, const char* name,
                             const char* expected, double got) {
  // %.17g keeps integers up to 2^53 exact and shows fractions as they are.
  char number[32];
  std::snprintf(number, sizeof number, "%.17g", got);
  throw Napi::RangeError::New(env, Describe(function, name) + " must be " + expected + ", got " +
                                       number);
}

bool IsUndefined(napi_env env, napi_value value) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == napi_undefined;
}

// False (napi_number_expected, nothing thrown) when the value is not a number:
// the caller decides whether undefined is allowed.
bool ToDouble(napi_env env, napi_value value, double* out) {
  return napi_get_value_double(env, value, out) == napi_ok;
}

double GetNumber(const Napi::CallbackInfo& info, size_t index, const char* function,
                 const char* name) {
  double number;
  if (!ToDouble(info.Env(), info[index], &number)) ThrowType(info.Env(), function, name, "a number");
  return number;
}

uint64_t CheckSafeIndex(napi_env env, double number, const char* function, const char* name) {
  // Also rejects NaN and the infinities: every comparison with NaN is false.
  if (!(number >= 0 && number <= kSafeIntegerMax && std::trunc(number) == number)) {
    ThrowRange(env, function, name, "an integer in [0, 2^53 - 1]", number);
  }
  return static_cast<uint64_t>(number);
}

}  // namespace

bool TryToBytes(napi_env env, napi_value value, ByteSpan* out) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  // Fails (without a pending exception) when the value is not a typed array.
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return false;
  }
  // A detached or empty array may report a null pointer; keep it harmless.
  *out = ByteSpan{static_cast<uint8_t*>(data), data == nullptr ? 0 : length};
  return true;
}

ByteSpan ToBytes(napi_env env, napi_value value, const char* function, const char* name) {
  ByteSpan bytes;
  if (!TryToBytes(env, value, &bytes)) ThrowType(env, function, name, "a Uint8Array");
  return bytes;
}

ByteSpan GetBytes(const Napi::CallbackInfo& info, size_t index, const char* function,
                  const char* name) {
  return ToBytes(info.Env(), info[index], function, name);
}

int GetFd(const Napi::CallbackInfo& info, size_t index, const char* function, const char* name) {
  double number = GetNumber(info, index, function, name);
  if (!(number >= 0 && number <= 2147483647.0 && std::trunc(number) == number)) {
    ThrowRange(info.Env(), function, name, "an integer in [0, 2^31 - 1]", number);
  }
  return static_cast<int>(number);
}

uint64_t GetSafeIndex(const Napi::CallbackInfo& info, size_t index, const char* function,
                      const char* name) {
  return CheckSafeIndex(info.Env(), GetNumber(info, index, function, name), function, name);
}

uint64_t GetOptionalSafeIndex(const Napi::CallbackInfo& info, size_t index, const char* function,
                              const char* name, uint64_t fallback) {
  if (index >= info.Length()) return fallback;
  double number;
  if (ToDouble(info.Env(), info[index], &number)) {
    return CheckSafeIndex(info.Env(), number, function, name);
  }
  if (IsUndefined(info.Env(), info[index])) return fallback;
  ThrowType(info.Env(), function, name, "a number or undefined");
}

uint32_t GetOptionalCrc(const Napi::CallbackInfo& info, size_t index, const char* function,
                        const char* name) {
  if (index >= info.Length()) return 0;
  double number;
  if (!ToDouble(info.Env(), info[index], &number)) {
    if (IsUndefined(info.Env(), info[index])) return 0;
    ThrowType(info.Env(), function, name, "a number or undefined");
  }
  if (!(number >= -2147483648.0 && number <= 4294967295.0 && std::trunc(number) == number)) {
    ThrowRange(info.Env(), function, name, "an integer in [-2^31, 2^32 - 1]", number);
  }
  return static_cast<uint32_t>(static_cast<int64_t>(number));
}

void CheckRange(Napi::Env env, uint64_t start, uint64_t end, size_t length, const char* function,
                const char* startName, const char* endName) {
  if (end > length) {
    throw Napi::RangeError::New(env, Describe(function, endName) + " (" + std::to_string(end) +
                                         ") must be <= the buffer's length (" +
                                         std::to_string(length) + ")");
  }
  if (start > end) {
    throw Napi::RangeError::New(env, Describe(function, startName) + " (" +
                                         std::to_string(start) + ") must be <= " + endName + " (" +
                                         std::to_string(end) + ")");
  }
}

}  // namespace ferry
