#include "core/plan_sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/logprobs.h"

namespace astraea {

namespace {

[[noreturn]] void bad(int64_t s, const std::string& why) {
  throw EngineError(codes::kInvalidPlan, "sequence " + std::to_string(s) + " " + why);
}

int64_t mask_words(int64_t vocab) { return (vocab + 31) / 32; }

// A concatenated per-sequence list: offsets start at 0, never decrease, end at `total`.
void check_offsets(const int32_t* offsets, int64_t num_seqs, int64_t total, const char* name) {
  if (offsets[0] != 0) throw EngineError(codes::kInvalidPlan, std::string(name) + " must start at 0");
  for (int64_t s = 0; s < num_seqs; ++s)
    if (offsets[s + 1] < offsets[s]) bad(s, std::string("has a malformed ") + name + " range");
  if (offsets[num_seqs] != total)
    throw EngineError(codes::kInvalidPlan, std::string(name) + " ends at " + std::to_string(offsets[num_seqs]) +
                                               " but " + std::to_string(total) + " entries were given");
}

void check_penalty_counts(const StepPlan& p, int64_t vocab) {
  check_offsets(p.penalty_offsets, p.num_seqs, p.num_penalty_pairs, "penaltyOffsets");
  std::vector<int32_t> ids;
  for (int64_t s = 0; s < p.num_seqs; ++s) {
    ids.assign(p.penalty_ids + p.penalty_offsets[s], p.penalty_ids + p.penalty_offsets[s + 1]);
    for (int64_t j = p.penalty_offsets[s]; j < p.penalty_offsets[s + 1]; ++j) {
      if (p.penalty_ids[j] < 0 || p.penalty_ids[j] >= vocab)
        bad(s, "counts id " + std::to_string(p.penalty_ids[j]) + ", outside the vocabulary [0, " + std::to_string(vocab) + ")");
      if (p.penalty_counts[j] < 1) bad(s, "counts id " + std::to_string(p.penalty_ids[j]) + " " + std::to_string(p.penalty_counts[j]) + " times; counts must be >= 1");
    }
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) bad(s, "counts an id twice in penaltyIds");
  }
}

void check_masks(const StepPlan& p, int64_t vocab, int64_t sampleable) {
  check_offsets(p.allowed_mask_offsets, p.num_seqs, p.num_allowed_mask_words, "allowedMaskOffsets");
  for (int64_t s = 0; s < p.num_seqs; ++s) {
    const int64_t words = p.allowed_mask_offsets[s + 1] - p.allowed_mask_offsets[s];
    if (words == 0) continue;
    if (words != mask_words(vocab))
      bad(s, "has an allowed-token mask of " + std::to_string(words) + " words; a vocabulary of " + std::to_string(vocab) +
                 " ids needs " + std::to_string(mask_words(vocab)));
    SamplingRow row;
    row.sampleable = sampleable;
    row.allowed = p.allowed_masks + p.allowed_mask_offsets[s];
    bool any = false;
    for (int64_t i = 0; i < sampleable && !any; ++i) any = may_draw(row, i);
    if (!any) bad(s, "has an allowed-token mask that allows no id below " + std::to_string(sampleable));
  }
}

void check_range(int64_t s, const float* values, float lo, float hi, const char* name, const char* range) {
  if (values && !(values[s] >= lo && values[s] <= hi))
    bad(s, std::string(name) + " must be in " + range + ", got " + std::to_string(values[s]));
}

}  // namespace

void validate_sampling(const StepPlan& p, int64_t vocab) {
  if (p.sampleable_ids && (*p.sampleable_ids < 1 || *p.sampleable_ids > vocab))
    throw EngineError(codes::kInvalidPlan, "sampleableIds must be in [1, " + std::to_string(vocab) + "], got " +
                                               std::to_string(*p.sampleable_ids));
  const int64_t sampleable = p.sampleable_ids.value_or(vocab);
  if (!p.temperature || !p.top_k || !p.top_p || !p.seeds) throw EngineError(codes::kInvalidPlan, "a per-sequence array is missing");
  for (int64_t s = 0; s < p.num_seqs; ++s) {
    if (!(p.temperature[s] >= 0) || !std::isfinite(p.temperature[s])) bad(s, "temperature must be a finite number >= 0");
    if (p.top_k[s] < 0) bad(s, "topK must be >= 0");
    if (!(p.top_p[s] > 0 && p.top_p[s] <= 1)) bad(s, "topP must be in (0, 1]");
    check_range(s, p.min_p, 0, 1, "minP", "[0, 1]");
    check_range(s, p.presence_penalty, -2, 2, "presencePenalty", "[-2, 2]");
    check_range(s, p.frequency_penalty, -2, 2, "frequencyPenalty", "[-2, 2]");
    if (p.logprobs && p.logprobs[s] > 1) bad(s, "logprobs must be 0 or 1");
    if (p.top_logprobs && (p.top_logprobs[s] < 0 || p.top_logprobs[s] > kMaxTopLogprobs))
      bad(s, "topLogprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " + std::to_string(p.top_logprobs[s]));
    if (p.top_logprobs && p.top_logprobs[s] > 0 && !(p.logprobs && p.logprobs[s]))
      bad(s, "asks for topLogprobs without logprobs");
  }
  if (p.penalty_offsets) check_penalty_counts(p, vocab);
  else if (p.num_penalty_pairs > 0) throw EngineError(codes::kInvalidPlan, "penalty counts given without penaltyOffsets");
  if (p.allowed_mask_offsets) check_masks(p, vocab, sampleable);
  else if (p.num_allowed_mask_words > 0) throw EngineError(codes::kInvalidPlan, "allowed-token masks given without allowedMaskOffsets");
}

SamplingRow sampling_row(const StepPlan& p, int64_t s, int64_t vocab) {
  SamplingRow row;
  row.params.temperature = p.temperature[s];
  row.params.top_k = p.top_k[s];
  row.params.top_p = p.top_p[s];
  row.params.seed = p.seeds[s];
  if (p.min_p) row.params.min_p = p.min_p[s];
  if (p.presence_penalty) row.params.presence_penalty = p.presence_penalty[s];
  if (p.frequency_penalty) row.params.frequency_penalty = p.frequency_penalty[s];
  row.sampleable = p.sampleable_ids.value_or(vocab);
  if (p.allowed_mask_offsets && p.allowed_mask_offsets[s + 1] > p.allowed_mask_offsets[s])
    row.allowed = p.allowed_masks + p.allowed_mask_offsets[s];
  if (p.penalty_offsets) {
    const int32_t first = p.penalty_offsets[s];
    row.output = {p.penalty_ids + first, p.penalty_counts + first, int64_t(p.penalty_offsets[s + 1] - first)};
  }
  row.logprobs = p.logprobs && p.logprobs[s];
  row.top_logprobs = p.top_logprobs ? p.top_logprobs[s] : 0;
  return row;
}

bool any_logprobs(const StepPlan& p) {
  if (!p.logprobs) return false;
  for (int64_t s = 0; s < p.num_seqs; ++s)
    if (p.logprobs[s]) return true;
  return false;
}

void reset_logprobs(const StepPlan& p, StepResult& result) {
  result.sampled_logprobs.clear();
  result.top_logprob_offsets.clear();
  result.top_logprob_ids.clear();
  result.top_logprob_values.clear();
  if (!any_logprobs(p)) return;
  result.sampled_logprobs.assign(size_t(p.num_seqs), std::numeric_limits<float>::quiet_NaN());
  result.top_logprob_offsets.assign(size_t(p.num_seqs + 1), 0);
}

void sample_step(const StepPlan& p, const float* logits, const int64_t* rows, int64_t vocab, StepResult& result) {
  result.tokens.resize(size_t(p.num_seqs));
  reset_logprobs(p, result);
  SamplerScratch scratch;
  RowLogprobs logprobs;
  for (int64_t s = 0; s < p.num_seqs; ++s) {
    const SamplingRow row = sampling_row(p, s, vocab);
    const float* row_logits = logits + rows[s] * vocab;
    const int64_t position = p.start_positions[s] + p.query_lens[s];  // the sampled token's position
    const int32_t token = finite_logits(row_logits, vocab) ? sample_token(row_logits, vocab, row, position, scratch) : kNonFiniteLogits;
    result.tokens[size_t(s)] = token;
    if (row.logprobs && token != kNonFiniteLogits) {
      row_logprobs(row_logits, vocab, row, token, logprobs);
      result.sampled_logprobs[size_t(s)] = logprobs.token;
      for (const TokenLogprob& t : logprobs.top) {
        result.top_logprob_ids.push_back(t.id);
        result.top_logprob_values.push_back(t.logprob);
      }
    }
    if (!result.top_logprob_offsets.empty()) result.top_logprob_offsets[size_t(s + 1)] = int32_t(result.top_logprob_ids.size());
  }
}

}  // namespace astraea
