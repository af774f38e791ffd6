#include "core/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"

namespace astraea {

namespace {

int32_t argmax(const float* logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

}  // namespace

int32_t sample_token(const float* logits, int64_t vocab, const SamplingParams& p, int64_t position,
                     std::vector<std::pair<float, int32_t>>& candidates) {
  if (p.temperature <= 0 || p.top_k == 1) return argmax(logits, vocab);

  candidates.resize(size_t(vocab));
  for (int64_t i = 0; i < vocab; ++i) candidates[size_t(i)] = {logits[i], int32_t(i)};
  // Highest logit first; ties broken by the lower id so the order is fully determined.
  auto higher = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = size_t(vocab);
  if (p.top_k > 0 && p.top_k < vocab) {
    keep = size_t(p.top_k);
    std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(), higher);
  } else {
    std::sort(candidates.begin(), candidates.end(), higher);
  }

  // Softmax over the kept candidates at this temperature, in double for a stable nucleus cut.
  const double max_logit = candidates[0].first;
  std::vector<double> probs(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp((double(candidates[i].first) - max_logit) / double(p.temperature));
    total += probs[i];
  }
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
