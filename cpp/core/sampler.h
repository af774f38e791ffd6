// Token sampling from one row of logits. Deterministic: the random draw for a token depends only
// on the sequence's seed and the token's position, so a sequence samples the same tokens however
// it is batched or preempted.
#pragma once
#include <cstdint>
#include <vector>

namespace astraea {

struct SamplingParams {
  float temperature = 0;  // 0: greedy
  int32_t top_k = 0;      // 0: all tokens
  float top_p = 1;        // 1: no nucleus cut
  uint32_t seed = 0;
};

// `scratch` is reused between calls to avoid allocating per token.
int32_t sample_token(const float* logits, int64_t vocab, const SamplingParams& params, int64_t position,
                     std::vector<std::pair<float, int32_t>>& scratch);

}  // namespace astraea
