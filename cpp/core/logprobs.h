// Log-probabilities returned with a sampled token (OpenAI's `logprobs` / `top_logprobs`).
//
// They are taken from the model's distribution restricted to the ids the row may draw: the log
// softmax of the raw logits over the allowed ids (the sampleable limit and the allowed-token
// mask applied; masked ids have probability 0 and are never listed), before penalties,
// temperature and the top_k / top_p / min_p cuts. That is vLLM v1's default ("raw_logprobs")
// with the mask applied, so a value does not change with the sampling settings of the request.
#pragma once
#include <cstdint>
#include <vector>

#include "core/sampler.h"

namespace astraea {

struct TokenLogprob {
  int32_t id;
  float logprob;
};

struct RowLogprobs {
  float token = 0;                // the drawn token's
  std::vector<TokenLogprob> top;  // the row's top_logprobs most likely ids, most likely first (lowest id among equals)
};

// `token` must be an id the row may draw.
void row_logprobs(const float* logits, int64_t vocab, const SamplingRow& row, int32_t token, RowLogprobs& out);

}  // namespace astraea
