// sampleLogits(logits, vocabSize, plan): the step's sampler (core/plan_sampling.h) run on logits
// the caller gives, synchronously — for tests that need hand-made logits, and for tools. The plan
// is a step plan (only its sequences' count, positions and sampling fields are read).
#pragma once
#include <napi.h>

#include "core/step_plan.h"

namespace astraea::napi {

Napi::Value sample_logits_js(const Napi::CallbackInfo& info);

// Sets the step result's log-probability fields on `out` (sampledLogprobs null when none asked).
void set_logprobs(Napi::Env env, Napi::Object& out, const StepResult& result);

}  // namespace astraea::napi
