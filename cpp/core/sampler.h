// Token sampling from one row of logits. Deterministic: the random draw for a token depends only
// on the sequence's seed and the token's position, so a sequence samples the same tokens however
// it is batched or preempted.
//
// The order, as vLLM v1 applies it (docs/architecture.md, "Sampling"):
//   1. the mask: ids at or past `sampleable` and ids outside `allowed` can never be drawn (they
//      are removed before anything else, so no cut below ever counts them);
//   2. penalties on the logits: logit -= presence × [count > 0] + frequency × count, over the
//      tokens this segment has generated (OpenAI's definition);
//   3. greedy (temperature 0 or top_k 1): the highest penalised logit, lowest id among equals;
//   4. else a softmax at the temperature, then min_p (keep p ≥ min_p × the top p), top_k, and
//      top_p over what is left (the smallest prefix whose mass reaches top_p), then one draw.
// min_p and top_k both keep a prefix of the sorted order and min_p's threshold does not depend on
// what top_k drops, so those two commute; top_p renormalises over what both kept.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace astraea {

struct SamplingParams {
  float temperature = 0;  // 0: greedy
  int32_t top_k = 0;      // 0: all tokens
  float top_p = 1;        // 1: no nucleus cut
  float min_p = 0;        // 0: no cut
  float presence_penalty = 0;   // OpenAI's range [-2, 2]
  float frequency_penalty = 0;  // OpenAI's range [-2, 2]
  uint32_t seed = 0;
};

// The (id, count) pairs of the tokens a sequence has generated so far, each id once.
struct TokenCounts {
  const int32_t* ids = nullptr;
  const int32_t* counts = nullptr;
  int64_t size = 0;
};

// Everything one row's draw depends on besides its logits, borrowed from the step plan.
struct SamplingRow {
  SamplingParams params;
  int64_t sampleable = 0;             // ids at or past this are never drawn (the tokenizer's id count)
  const uint32_t* allowed = nullptr;  // bitset: bit (id % 32) of word id / 32 set = id may be drawn; null: all
  TokenCounts output;                 // what the penalties count
  bool logprobs = false;              // return the drawn token's log-probability ...
  int32_t top_logprobs = 0;           // ... and this many of the most likely ids' (at most 20)
};

constexpr int32_t kMaxTopLogprobs = 20;  // OpenAI's limit

inline bool may_draw(const SamplingRow& row, int64_t id) {
  return id < row.sampleable && (!row.allowed || ((row.allowed[id >> 5] >> (id & 31)) & 1u));
}

struct SamplerScratch {  // reused between rows to avoid allocating per token
  std::vector<float> logits;
  std::vector<std::pair<float, int32_t>> candidates;
  std::vector<double> probs;
};

// What a step returns for a row whose logits are not all finite (NaN or infinite: broken weights,
// or an overflow): no id is drawn from it, and the engine fails that sequence alone.
constexpr int32_t kNonFiniteLogits = -1;

// Whether every one of the row's logits is a finite number.
bool finite_logits(const float* logits, int64_t vocab);

// The drawn id. The row's mask must allow at least one id (the plan check makes sure).
int32_t sample_token(const float* logits, int64_t vocab, const SamplingRow& row, int64_t position, SamplerScratch& scratch);

}  // namespace astraea
