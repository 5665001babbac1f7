// JavaScript errors for failed syscalls, shaped like Node's own fs errors: the
// message names the syscall, its arguments and the errno text, and the object
// carries `code` ('ENOSPC', 'EBADF', ...), `errno` (negated, as in Node) and
// `syscall`, so callers switch on `code` exactly as they do for node:fs.
#pragma once

#include <napi.h>

#include <string>

namespace ferry {

// `detail` lists the arguments, e.g. "fd=7, position=4096, length=512".
// Call on the JavaScript thread only (it reads strerror's static strings).
Napi::Error SyscallError(Napi::Env env, int errnum, const char* syscall, const std::string& detail);

// The errno constant's name, e.g. "ENOSPC"; "E<number>" when unknown.
std::string ErrnoName(int errnum);

}  // namespace ferry
