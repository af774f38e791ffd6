// The step plan's sampling fields, per sequence: their check, the row each sequence samples
// with, and the CPU backend's sampling of a whole step (tokens and log-probabilities).
#pragma once
#include <cstdint>

#include "core/sampler.h"
#include "core/step_plan.h"

namespace astraea {

// Throws EngineError INVALID_PLAN naming the sequence and field at fault (validate_plan calls it
// after the plan's other checks).
void validate_sampling(const StepPlan& plan, int64_t vocab);

// Sequence s's sampling row (the plan must have been validated).
SamplingRow sampling_row(const StepPlan& plan, int64_t s, int64_t vocab);

// Samples every sequence of the plan: sequence s from the logits row at logits + rows[s] × vocab.
// Fills result.tokens and, when any sequence asked, the log-probabilities.
void sample_step(const StepPlan& plan, const float* logits, const int64_t* rows, int64_t vocab, StepResult& result);

// The log-probability fields of `result`, empty or sized for `num_seqs` sequences with NaN for
// the drawn tokens' (the CUDA backend fills them from the device).
bool any_logprobs(const StepPlan& plan);
void reset_logprobs(const StepPlan& plan, StepResult& result);

}  // namespace astraea
