#include "napi/workers.h"

#include <chrono>

#include "napi/model_wrap.h"
#include "napi/sample_logits.h"

namespace astraea::napi {

Napi::Value LoadModelWorker::result(Napi::Env env) { return ModelWrap::wrap(env, std::move(model_)); }

void StepWorker::run() {
  const auto start = std::chrono::steady_clock::now();
  result_ = cache_->step(*model_, plan_.plan);
  elapsed_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Napi::Value StepWorker::result(Napi::Env env) {
  plan_.keep_alive.clear();
  Napi::Object out = Napi::Object::New(env);
  Napi::Int32Array tokens = Napi::Int32Array::New(env, result_.tokens.size());
  std::copy(result_.tokens.begin(), result_.tokens.end(), tokens.Data());
  out.Set("tokens", tokens);
  if (result_.logits_rows > 0) {
    // Hand the logits over without a copy; the vector is freed when the ArrayBuffer is collected.
    auto* logits = new std::vector<float>(std::move(result_.logits));
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, logits->data(), logits->size() * sizeof(float),
        [](Napi::Env, void*, std::vector<float>* owned) { delete owned; }, logits);
    out.Set("logits", Napi::Float32Array::New(env, logits->size(), buffer, 0));
  } else {
    out.Set("logits", env.Null());
  }
  set_logprobs(env, out, result_);
  out.Set("logitsRows", Napi::Number::New(env, double(result_.logits_rows)));
  out.Set("elapsedS", Napi::Number::New(env, elapsed_s_));
  out.Set("blockingSwapS", Napi::Number::New(env, result_.blocking_swap_s));
  out.Set("overlappedSwapS", Napi::Number::New(env, result_.overlapped_swap_s));
  out.Set("overlappedSwapBlocks", Napi::Number::New(env, double(result_.overlapped_swap_blocks)));
  return out;
}

}  // namespace astraea::napi
