// fdatasync(fd) -> Promise<void>: flushes a file's data (and the metadata needed
// to read it back, such as its size) to stable storage on a libuv pool thread,
// so the JavaScript thread never waits on the disk.
#include <unistd.h>

#include <cerrno>
#include <string>

#include "args.h"
#include "bindings.h"
#include "promise_worker.h"

namespace ferry {
namespace {

class FdatasyncWorker final : public PromiseWorker {
 public:
  FdatasyncWorker(Napi::Env env, int fd) : PromiseWorker(env, "fdatasync"), fd_(fd) {}

 private:
  void Execute() override {
    int result;
    do {
      result = ::fdatasync(fd_);
    } while (result < 0 && errno == EINTR);
    if (result < 0) errnum_ = errno;
  }

  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  std::string Detail() const override { return "fd=" + std::to_string(fd_); }

  const int fd_;
};

Napi::Value Fdatasync(const Napi::CallbackInfo& info) {
  return RejectOnThrow(info.Env(), [&]() -> Napi::Value {
    int fd = GetFd(info, 0, "fdatasync", "fd");
    auto* worker = new FdatasyncWorker(info.Env(), fd);  // Deletes itself once settled.
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

}  // namespace

void RegisterFdatasync(Napi::Env env, Napi::Object exports) {
  exports.Set("fdatasync", Napi::Function::New<Fdatasync>(env, "fdatasync"));
}

}  // namespace ferry
