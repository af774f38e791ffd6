// An AsyncWorker that settles a promise. run() executes on a libuv worker thread and must not
// touch JS values; an EngineError (or any exception) thrown there rejects the promise with a JS
// EngineError carrying the same code.
#pragma once
#include <napi.h>

#include <string>

namespace astraea::napi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  virtual void run() = 0;                          // worker thread
  virtual Napi::Value result(Napi::Env env) = 0;   // main thread, after run() succeeded

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;

  Napi::Promise::Deferred deferred_;
  std::string code_;
};

}  // namespace astraea::napi
