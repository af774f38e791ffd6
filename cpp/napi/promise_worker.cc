#include "napi/promise_worker.h"

#include "core/errors.h"
#include "napi/errors.h"

namespace astraea::napi {

void PromiseWorker::Execute() {
  try {
    run();
  } catch (const EngineError& e) {
    code_ = e.code();
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    code_ = codes::kOutOfMemory;
    SetError("out of memory");
  } catch (const std::exception& e) {
    code_ = codes::kInternal;
    SetError(e.what());
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  try {
    deferred_.Resolve(guard(env, [&] { return result(env); }));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void PromiseWorker::OnError(const Napi::Error& error) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  deferred_.Reject(engine_error(env, code_.empty() ? codes::kInternal : code_, error.Message()).Value());
}

}  // namespace astraea::napi
