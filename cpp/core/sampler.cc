#include "core/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"

namespace astraea {

namespace {

// Highest logit, lowest id among equals. Masked ids are -inf and lose to any allowed one.
int32_t argmax(const float* logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

// The row's logits with the mask (-inf) and the penalties applied. The penalty is computed in
// float as (presence + frequency × count), then subtracted: the CUDA sampler does the same, in
// the same order and rounding, so both draw from identical values.
void mask_and_penalise(const float* logits, int64_t vocab, const SamplingRow& row, std::vector<float>& out) {
  out.resize(size_t(vocab));
  for (int64_t i = 0; i < vocab; ++i) out[size_t(i)] = may_draw(row, i) ? logits[i] : -INFINITY;
  const float presence = row.params.presence_penalty, frequency = row.params.frequency_penalty;
  if (presence == 0 && frequency == 0) return;
  for (int64_t j = 0; j < row.output.size; ++j) {
    const int32_t id = row.output.ids[j];
    if (out[size_t(id)] == -INFINITY) continue;  // masked: stays out
    const float scaled = frequency * float(row.output.counts[j]);
    const float penalty = presence + scaled;
    out[size_t(id)] = out[size_t(id)] - penalty;
  }
}

}  // namespace

int32_t sample_token(const float* raw_logits, int64_t vocab, const SamplingRow& row, int64_t position,
                     SamplerScratch& scratch) {
  const SamplingParams& p = row.params;
  // Nothing to mask or penalise (the common case): the row is read as it is, not copied.
  const bool penalised = (p.presence_penalty != 0 || p.frequency_penalty != 0) && row.output.size > 0;
  const bool plain = row.sampleable >= vocab && !row.allowed && !penalised;
  if (!plain) mask_and_penalise(raw_logits, vocab, row, scratch.logits);
  const float* logits = plain ? raw_logits : scratch.logits.data();
  if (p.temperature <= 0 || p.top_k == 1) return argmax(logits, vocab);

  auto& candidates = scratch.candidates;
  candidates.clear();
  for (int64_t i = 0; i < vocab; ++i)
    if (logits[i] != -INFINITY) candidates.push_back({logits[i], int32_t(i)});
  const size_t allowed = candidates.size();
  // Highest logit first; ties broken by the lower id so the order is fully determined.
  auto higher = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = allowed;
  if (p.top_k > 0 && size_t(p.top_k) < allowed) {
    keep = size_t(p.top_k);
    std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(), higher);
  } else {
    std::sort(candidates.begin(), candidates.end(), higher);
  }

  // Softmax weights relative to the top one (exp((l - max) / T) = p / p_max), in double for a
  // stable nucleus cut.
  const double max_logit = candidates[0].first;
  auto& probs = scratch.probs;
  probs.resize(keep);
  for (size_t i = 0; i < keep; ++i) probs[i] = std::exp((double(candidates[i].first) - max_logit) / double(p.temperature));
  if (p.min_p > 0) {
    // The weights fall along the sorted order, so the ids with p >= min_p × p_max are a prefix.
    size_t cut = 1;
    while (cut < keep && probs[cut] >= double(p.min_p)) ++cut;
    keep = cut;
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += probs[i];
  if (p.top_p < 1) {
    // Smallest prefix whose mass reaches top_p (at least one token).
    double cumulative = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= double(p.top_p)) { cut = i + 1; break; }
    }
    keep = cut;
    total = 0;
    for (size_t i = 0; i < keep; ++i) total += probs[i];
  }

  const uint64_t r = mix64(mix64(uint64_t(p.seed)) ^ uint64_t(position));
  const double u = double(r >> 11) * (1.0 / 9007199254740992.0) * total;  // [0, total)
  double cumulative = 0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += probs[i];
    if (u < cumulative) return candidates[i].second;
  }
  return candidates[keep - 1].second;
}

}  // namespace astraea
