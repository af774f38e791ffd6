#include "napi/sample_logits.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/plan_sampling.h"
#include "napi/args.h"
#include "napi/errors.h"
#include "napi/plan_args.h"

namespace astraea::napi {

namespace {

template <typename A, typename T>
A copy_array(Napi::Env env, const std::vector<T>& values) {
  A array = A::New(env, values.size());
  std::copy(values.begin(), values.end(), array.Data());
  return array;
}

}  // namespace

void set_logprobs(Napi::Env env, Napi::Object& out, const StepResult& result) {
  if (result.sampled_logprobs.empty()) {
    out.Set("sampledLogprobs", env.Null());
    return;
  }
  out.Set("sampledLogprobs", copy_array<Napi::Float32Array>(env, result.sampled_logprobs));
  out.Set("topLogprobOffsets", copy_array<Napi::Int32Array>(env, result.top_logprob_offsets));
  out.Set("topLogprobIds", copy_array<Napi::Int32Array>(env, result.top_logprob_ids));
  out.Set("topLogprobValues", copy_array<Napi::Float32Array>(env, result.top_logprob_values));
}

Napi::Value sample_logits_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw EngineError(codes::kInvalidArgument, "sampleLogits(logits, vocabSize, plan): logits must be a Float32Array");
    if (!info[1].IsNumber()) throw EngineError(codes::kInvalidArgument, "sampleLogits: vocabSize must be a number");
    Napi::Float32Array logits = info[0].As<Napi::Float32Array>();
    const double vocab_arg = info[1].As<Napi::Number>().DoubleValue();
    if (!(vocab_arg >= 1 && vocab_arg <= 1e9) || vocab_arg != double(int64_t(vocab_arg)))
      throw EngineError(codes::kInvalidArgument, "sampleLogits: vocabSize must be a positive integer");
    const int64_t vocab = int64_t(vocab_arg);
    BorrowedPlan borrowed;
    read_step_plan(object_arg(info, 2, "sampleLogits plan"), borrowed);
    const StepPlan& plan = borrowed.plan;
    if (int64_t(logits.ElementLength()) != plan.num_seqs * vocab)
      throw EngineError(codes::kInvalidArgument, "sampleLogits: " + std::to_string(logits.ElementLength()) +
                                                     " logits for " + std::to_string(plan.num_seqs) + " rows of " +
                                                     std::to_string(vocab));
    for (int64_t s = 0; s < plan.num_seqs; ++s)
      if (plan.query_lens[s] < 1 || plan.start_positions[s] < 0)
        throw EngineError(codes::kInvalidPlan, "sequence " + std::to_string(s) + " needs a token and a position >= 0");
    validate_sampling(plan, vocab);
    std::vector<int64_t> rows(size_t(plan.num_seqs));
    for (int64_t s = 0; s < plan.num_seqs; ++s) rows[size_t(s)] = s;
    StepResult result;
    sample_step(plan, logits.Data(), rows.data(), vocab, result);
    Napi::Object out = Napi::Object::New(env);
    out.Set("tokens", copy_array<Napi::Int32Array>(env, result.tokens));
    set_logprobs(env, out, result);
    return out;
  });
}

}  // namespace astraea::napi
