// Synchronous positioned file I/O on caller-owned bytes: pwrite, pwritev, pread
// and preallocate (fallocate with FALLOC_FL_KEEP_SIZE); and lockExclusive
// (flock), which Node lacks, to keep two brokers off one data directory.
//
// These run on the calling (JavaScript) thread on purpose: writes into the page
// cache and reads of hot segment tails are memcpy-speed, cheaper than a round
// trip through the libuv pool. Durability is fdatasync's job (fdatasync.cc).
// Short transfers and EINTR are retried here, so a call either moves every
// byte it was asked to (reads stop early only at end of file) or throws.
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "errors.h"

namespace ferry {
namespace {

std::string Detail(int fd, uint64_t position, uint64_t length) {
  return "fd=" + std::to_string(fd) + ", position=" + std::to_string(position) +
         ", length=" + std::to_string(length);
}

// pwrite(fd, bytes, position) -> bytes written (always bytes.length).
Napi::Value Pwrite(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "pwrite";
  int fd = GetFd(info, 0, kName, "fd");
  ByteSpan bytes = GetBytes(info, 1, kName, "bytes");
  uint64_t position = GetSafeIndex(info, 2, kName, "position");
  size_t written = 0;
  while (written < bytes.length) {
    ssize_t n = ::pwrite(fd, bytes.data + written, bytes.length - written,
                         static_cast<off_t>(position + written));
    if (n < 0 && errno == EINTR) continue;
    // A zero-byte write of a non-empty range would loop forever; Linux does not
    // return it for files, so treat it as the I/O error it would be.
    if (n <= 0) {
      throw SyscallError(info.Env(), n < 0 ? errno : EIO, kName, Detail(fd, position, bytes.length));
    }
    written += static_cast<size_t>(n);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(written));
}

// Collects the non-empty buffers of `array`: a short write never has to step
// over an empty iovec. All elements are fetched before any pointer is taken,
// because fetching can run JavaScript (an accessor on the array) that could
// detach a buffer already collected.
std::vector<iovec> CollectIovecs(const Napi::CallbackInfo& info, size_t index, const char* function,
                                 uint64_t* total) {
  napi_env env = info.Env();
  napi_value array = info[index];
  bool isArray = false;
  if (napi_is_array(env, array, &isArray) != napi_ok || !isArray) {
    throw Napi::TypeError::New(env, std::string(function) + ": buffers must be an array of Uint8Array");
  }
  uint32_t count = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_array_length(env, array, &count), std::vector<iovec>());
  std::vector<napi_value> elements(count);
  for (uint32_t i = 0; i < count; i++) {
    NAPI_THROW_IF_FAILED(env, napi_get_element(env, array, i, &elements[i]), std::vector<iovec>());
  }
  std::vector<iovec> iovecs;
  iovecs.reserve(count);
  *total = 0;
  for (uint32_t i = 0; i < count; i++) {
    ByteSpan bytes;
    if (!TryToBytes(env, elements[i], &bytes)) {
      throw Napi::TypeError::New(env, std::string(function) + ": buffers[" + std::to_string(i) +
                                          "] must be a Uint8Array");
    }
    if (bytes.length == 0) continue;
    iovecs.push_back(iovec{bytes.data, bytes.length});
    *total += bytes.length;
  }
  return iovecs;
}

// Drops `consumed` bytes from the front of iovecs[*first...].
void Advance(std::vector<iovec>& iovecs, size_t* first, size_t consumed) {
  while (consumed > 0 && consumed >= iovecs[*first].iov_len) {
    consumed -= iovecs[*first].iov_len;
    (*first)++;
  }
  if (consumed > 0) {
    iovecs[*first].iov_base = static_cast<uint8_t*>(iovecs[*first].iov_base) + consumed;
    iovecs[*first].iov_len -= consumed;
  }
}

// pwritev(fd, buffers, position) -> total bytes written (the sum of lengths).
Napi::Value Pwritev(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "pwritev";
  int fd = GetFd(info, 0, kName, "fd");
  uint64_t total = 0;
  std::vector<iovec> iovecs = CollectIovecs(info, 1, kName, &total);
  uint64_t position = GetSafeIndex(info, 2, kName, "position");
  // The JS arrays cannot be touched again until we return, so the pointers
  // collected above stay valid for the whole loop.
  size_t first = 0;
  uint64_t written = 0;
  while (first < iovecs.size()) {
    int batch = static_cast<int>(std::min<size_t>(iovecs.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd, &iovecs[first], batch, static_cast<off_t>(position + written));
    if (n < 0 && errno == EINTR) continue;
    // As in Pwrite: zero bytes for a non-empty batch would loop forever.
    if (n <= 0) {
      throw SyscallError(info.Env(), n < 0 ? errno : EIO, kName, Detail(fd, position, total));
    }
    written += static_cast<uint64_t>(n);
    Advance(iovecs, &first, static_cast<size_t>(n));
  }
  return Napi::Number::New(info.Env(), static_cast<double>(written));
}

// pread(fd, bytes, offset, length, position) -> bytes read into
// bytes[offset, offset + length); fewer only when the file ends first.
Napi::Value Pread(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "pread";
  int fd = GetFd(info, 0, kName, "fd");
  ByteSpan bytes = GetBytes(info, 1, kName, "bytes");
  uint64_t offset = GetSafeIndex(info, 2, kName, "offset");
  uint64_t length = GetSafeIndex(info, 3, kName, "length");
  uint64_t position = GetSafeIndex(info, 4, kName, "position");
  CheckRange(info.Env(), offset, offset + length, bytes.length, kName, "offset", "offset + length");
  uint8_t* target = bytes.data + offset;
  size_t read = 0;
  while (read < length) {
    ssize_t n = ::pread(fd, target + read, static_cast<size_t>(length) - read,
                        static_cast<off_t>(position + read));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SyscallError(info.Env(), errno, kName, Detail(fd, position, length));
    if (n == 0) break;  // End of file.
    read += static_cast<size_t>(n);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(read));
}

// preallocate(fd, position, length): reserves blocks for [position,
// position + length) without changing the file's size, so appends do not
// fragment or hit ENOSPC midway, and recovery never sees a zero-filled tail.
// Filesystems without fallocate (EOPNOTSUPP) make it a successful no-op.
Napi::Value Preallocate(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "preallocate";
  int fd = GetFd(info, 0, kName, "fd");
  uint64_t position = GetSafeIndex(info, 1, kName, "position");
  uint64_t length = GetSafeIndex(info, 2, kName, "length");
  if (length == 0) return info.Env().Undefined();  // fallocate(2) rejects 0 with EINVAL.
  int result;
  do {
    result = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(position),
                         static_cast<off_t>(length));
  } while (result < 0 && errno == EINTR);
  if (result < 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
    throw SyscallError(info.Env(), errno, "fallocate",
                      Detail(fd, position, length) + ", mode=FALLOC_FL_KEEP_SIZE");
  }
  return info.Env().Undefined();
}

// lockExclusive(fd) -> true if this process now holds an exclusive flock(2) on
// the file, false if another process holds one. The lock lives as long as the
// descriptor (the process's exit releases it, even after kill -9).
Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "lockExclusive";
  int fd = GetFd(info, 0, kName, "fd");
  int result;
  do {
    result = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (result < 0 && errno == EINTR);
  if (result == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  throw SyscallError(info.Env(), errno, "flock", "fd=" + std::to_string(fd) + ", operation=LOCK_EX|LOCK_NB");
}

}  // namespace

void RegisterFileIo(Napi::Env env, Napi::Object exports) {
  exports.Set("lockExclusive", Napi::Function::New<LockExclusive>(env, "lockExclusive"));
  exports.Set("pwrite", Napi::Function::New<Pwrite>(env, "pwrite"));
  exports.Set("pwritev", Napi::Function::New<Pwritev>(env, "pwritev"));
  exports.Set("pread", Napi::Function::New<Pread>(env, "pread"));
  exports.Set("preallocate", Napi::Function::New<Preallocate>(env, "preallocate"));
}

}  // namespace ferry
