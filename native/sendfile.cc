// sendfile(socketFd, fileFd, position, length) -> Promise<bytes sent>: copies a
// byte range of a segment file to a socket inside the kernel, on a libuv pool
// thread. This is Fetch's zero-copy path: RecordBatch bytes go from the page
// cache to the socket without entering JavaScript.
//
// Sockets made by node:net are non-blocking, so sendfile(2) returns EAGAIN
// whenever the socket's send buffer is full. The worker then poll()s the socket
// for POLLOUT and carries on; when the peer takes no bytes for
// kStallTimeoutMs, it gives up and rejects with ETIMEDOUT. Stopping at end of
// file is not an error: the Promise resolves with the bytes actually sent.
//
// While a call is in flight the caller must not write to the socket from
// JavaScript (the bytes would interleave) nor close the file's fd. A stalled
// peer holds one libuv pool thread for up to kStallTimeoutMs.
//
// The socket is sent to through a duplicate of its descriptor, taken on the
// JavaScript thread before the worker starts and closed when it ends: Node
// closes a socket's fd on its own (a reset or end of stream read while the
// send runs), and a worker still holding the bare number could then send file
// bytes to whatever connection or file reused it. Through the duplicate, a
// closed-early socket only makes the send fail (EPIPE, ECONNRESET).
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "args.h"
#include "bindings.h"
#include "promise_worker.h"

namespace ferry {
namespace {

// The most one sendfile(2) call moves on Linux.
constexpr size_t kChunkBytesMax = 0x7FFFF000;
// How long the peer may accept no bytes before the send fails.
constexpr int kStallTimeoutMs = 30000;

class SendfileWorker final : public PromiseWorker {
 public:
  // `socketFd` is the worker's own duplicate: it closes it.
  SendfileWorker(Napi::Env env, int socketFd, int fileFd, uint64_t position, uint64_t length)
      : PromiseWorker(env, "sendfile"),
        socketFd_(socketFd),
        fileFd_(fileFd),
        position_(position),
        length_(length) {}

  ~SendfileWorker() override { ::close(socketFd_); }

 private:
  void Execute() override {
    off_t offset = static_cast<off_t>(position_);
    while (sent_ < length_) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(length_ - sent_, kChunkBytesMax));
      ssize_t n = ::sendfile(socketFd_, fileFd_, &offset, chunk);
      if (n > 0) {
        sent_ += static_cast<uint64_t>(n);
      } else if (n == 0) {
        return;  // End of file.
      } else if (errno == EAGAIN) {
        if (!AwaitWritable()) return;
      } else if (errno != EINTR) {
        errnum_ = errno;
        return;
      }
    }
  }

  // Waits for room in the socket's send buffer. An error or hang-up also ends
  // the wait: the next sendfile(2) reports it with its real errno.
  bool AwaitWritable() {
    pollfd socket{socketFd_, POLLOUT, 0};
    for (;;) {
      int ready = ::poll(&socket, 1, kStallTimeoutMs);
      if (ready > 0) return true;
      if (ready == 0) {
        errnum_ = ETIMEDOUT;
        return false;
      }
      if (errno != EINTR) {
        errnum_ = errno;
        return false;
      }
    }
  }

  Napi::Value Result(Napi::Env env) override {
    return Napi::Number::New(env, static_cast<double>(sent_));
  }

  std::string Detail() const override {
    return "socketFd=" + std::to_string(socketFd_) + ", fileFd=" + std::to_string(fileFd_) +
           ", position=" + std::to_string(position_) + ", length=" + std::to_string(length_) +
           ", sent=" + std::to_string(sent_);
  }

  const int socketFd_;
  const int fileFd_;
  const uint64_t position_;
  const uint64_t length_;
  uint64_t sent_ = 0;
};

Napi::Value Sendfile(const Napi::CallbackInfo& info) {
  return RejectOnThrow(info.Env(), [&]() -> Napi::Value {
    constexpr const char* kName = "sendfile";
    int socketFd = GetFd(info, 0, kName, "socketFd");
    int fileFd = GetFd(info, 1, kName, "fileFd");
    uint64_t position = GetSafeIndex(info, 2, kName, "position");
    uint64_t length = GetSafeIndex(info, 3, kName, "length");
    int ownSocketFd = ::fcntl(socketFd, F_DUPFD_CLOEXEC, 0);
    if (ownSocketFd < 0) {
      throw SyscallError(info.Env(), errno, kName, "dup of socketFd=" + std::to_string(socketFd));
    }
    auto* worker = new SendfileWorker(info.Env(), ownSocketFd, fileFd, position, length);
    Napi::Promise promise = worker->Promise();  // The worker deletes itself once settled.
    worker->Queue();
    return promise;
  });
}

}  // namespace

void RegisterSendfile(Napi::Env env, Napi::Object exports) {
  exports.Set("sendfile", Napi::Function::New<Sendfile>(env, "sendfile"));
}

}  // namespace ferry
