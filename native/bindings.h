// The JavaScript-facing functions of the addon, one Register* per source file;
// addon.cc calls each to fill in the module's exports.
#pragma once

#include <napi.h>

namespace ferry {

void RegisterCrc32c(Napi::Env env, Napi::Object exports);      // crc32c_binding.cc
void RegisterFileIo(Napi::Env env, Napi::Object exports);      // file_io.cc
void RegisterFdatasync(Napi::Env env, Napi::Object exports);   // fdatasync.cc
void RegisterSendfile(Napi::Env env, Napi::Object exports);    // sendfile.cc

}  // namespace ferry
