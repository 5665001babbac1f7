// Entry point of ferry_native.node: the storage engine's CRC32C and the file
// syscalls Node's fs lacks or routes through the libuv pool (pwrite without a
// round trip, fdatasync, fallocate with KEEP_SIZE, sendfile to a socket).
// Loaded by src/storage/native.ts.
#include <napi.h>

#include "bindings.h"

#if !defined(__linux__)
#error "ferry_native uses Linux syscalls (fallocate, sendfile); build it on Linux"
#endif

namespace ferry {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterCrc32c(env, exports);
  RegisterFileIo(env, exports);
  RegisterFdatasync(env, exports);
  RegisterSendfile(env, exports);
  return exports;
}

}  // namespace ferry

// NODE_API_MODULE pastes the name into an identifier, so it must be unqualified.
static Napi::Object InitFerryNative(Napi::Env env, Napi::Object exports) {
  return ferry::Init(env, exports);
}

NODE_API_MODULE(ferry_native, InitFerryNative)
