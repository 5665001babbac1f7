// Errors for failed syscalls (see errors.h).
#include "errors.h"

#include <cerrno>
#include <cstring>

namespace ferry {

std::string ErrnoName(int errnum) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  // glibc names EOPNOTSUPP and EAGAIN, the names Linux itself uses.
  if (const char* name = strerrorname_np(errnum)) return name;
#else
  switch (errnum) {
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EFBIG: return "EFBIG";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EISDIR: return "EISDIR";
    case ENOSPC: return "ENOSPC";
    case ENOTSOCK: return "ENOTSOCK";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ESPIPE: return "ESPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS";
    default: break;
  }
#endif
  return "E" + std::to_string(errnum);
}

Napi::Error SyscallError(Napi::Env env, int errnum, const char* syscall, const std::string& detail) {
  std::string code = ErrnoName(errnum);
  std::string message = std::string(syscall) + "(" + detail + ") failed: " + code + " (" +
                        std::strerror(errnum) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object object = error.Value();
  object.Set("code", Napi::String::New(env, code));
  object.Set("errno", Napi::Number::New(env, -errnum));
  object.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace ferry
