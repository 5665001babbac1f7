// A syscall run on a libuv pool thread that settles a Promise: the base of the
// asynchronous bindings (fdatasync.cc, sendfile.cc).
//
// Execute() runs off the JavaScript thread and must not touch JavaScript; it
// records errno in `errnum_` instead of throwing. Settle() runs back on the
// JavaScript thread and resolves with Result() or rejects with a SyscallError,
// so rejections carry `code` just like synchronous throws.
#pragma once

#include <napi.h>

#include <string>

#include "errors.h"

namespace ferry {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  PromiseWorker(Napi::Env env, const char* syscall)
      : Napi::AsyncWorker(env, syscall), deferred_(Napi::Promise::Deferred::New(env)), syscall_(syscall) {}

  // The value to resolve with when errnum_ is 0.
  virtual Napi::Value Result(Napi::Env env) = 0;
  // The arguments, for the error message: "fd=7".
  virtual std::string Detail() const = 0;

  int errnum_ = 0;

 private:
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (errnum_ != 0) {
      deferred_.Reject(SyscallError(env, errnum_, syscall_, Detail()).Value());
    } else {
      deferred_.Resolve(Result(env));
    }
  }

  // Only reached through SetError, which these workers never call; kept so a
  // future misuse still settles the Promise.
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

  Napi::Promise::Deferred deferred_;
  const char* syscall_;
};

// Runs `start` (which validates arguments and queues a worker) and turns an
// argument error into a rejected Promise, so a Promise-returning binding never
// throws synchronously.
template <typename Start>
Napi::Value RejectOnThrow(Napi::Env env, Start start) {
  try {
    return start();
  } catch (const Napi::Error& error) {
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(error.Value());
    return deferred.Promise();
  }
}

}  // namespace ferry
