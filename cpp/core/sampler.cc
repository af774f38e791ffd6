#include "core/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

// The candidates in sampling order — highest logit first, the lower id among equals, so the order
// is fully determined — sorted only as far as a walk reads them. A draw or a nucleus cut stops
// where the mass is reached, near the top in a peaked distribution; sorting every allowed id
// for every sampled row was most of a batch-32 CPU decode step (bench/native/sampler-cost.ts).
// The prefix grows by doubling, so a walk to the end costs what one full sort did.
template <typename WeightOf>
class SortedPrefix {
 public:
  SortedPrefix(std::vector<std::pair<float, int32_t>>& candidates, std::vector<double>& weights, WeightOf weight_of)
      : candidates_(candidates), weights_(weights), weight_of_(weight_of) {
    weights_.clear();
  }

  // The first `n` candidates (at most all) are in order, with their weights.
  void reach(size_t n) {
    n = std::min(n, candidates_.size());
    if (n <= sorted_) return;
    const size_t target = std::min(candidates_.size(), std::max({n, 2 * sorted_, kFirstChunk}));
    auto first = candidates_.begin() + std::ptrdiff_t(sorted_);
    auto end = candidates_.begin() + std::ptrdiff_t(target);
    // Everything past the prefix ranks below it, so the next best are the tail's best.
    if (target < candidates_.size()) std::nth_element(first, end, candidates_.end(), higher);
    std::sort(first, end, higher);
    for (size_t i = sorted_; i < target; ++i) weights_.push_back(weight_of_(candidates_[i].first));
    sorted_ = target;
  }
  size_t size() const { return sorted_; }
  double weight(size_t i) const { return weights_[i]; }
  int32_t id(size_t i) const { return candidates_[i].second; }

 private:
  static constexpr size_t kFirstChunk = 64;
  static bool higher(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
  std::vector<std::pair<float, int32_t>>& candidates_;
  std::vector<double>& weights_;
  WeightOf weight_of_;
  size_t sorted_ = 0;
};

}  // namespace

bool finite_logits(const float* logits, int64_t vocab) {
  // Branch-free, so it vectorises: |x| <= FLT_MAX is false for NaN and for either infinity.
  bool finite = true;
  for (int64_t i = 0; i < vocab; ++i) finite &= std::fabs(logits[i]) <= std::numeric_limits<float>::max();
  return finite;
}

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
  float max_logit = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i)
    if (logits[i] != -INFINITY) {
      candidates.push_back({logits[i], int32_t(i)});
      max_logit = std::max(max_logit, logits[i]);
    }
  // Softmax weights relative to the top one (exp((l - max) / T) = p / p_max), in double for a
  // stable nucleus cut.
  const double temperature = double(p.temperature);
  auto weight_of = [&](float logit) { return std::exp((double(logit) - double(max_logit)) / temperature); };
  SortedPrefix sorted(candidates, scratch.probs, weight_of);

  size_t keep = candidates.size();
  if (p.top_k > 0 && size_t(p.top_k) < keep) {
    keep = size_t(p.top_k);
    sorted.reach(keep);
  }
  if (p.min_p > 0) {
    // The weights fall along the order, so the ids with p >= min_p × p_max are a prefix: count
    // them where the order is not known yet.
    size_t cut = 0;
    if (sorted.size() >= keep) {
      cut = 1;
      while (cut < keep && sorted.weight(cut) >= double(p.min_p)) ++cut;
    } else {
      for (const auto& c : candidates)
        if (weight_of(c.first) >= double(p.min_p)) ++cut;
    }
    keep = std::max<size_t>(1, cut);
  }
  // The mass kept: summed along the order where it is known, else in the candidates' order (the
  // same sum but for rounding).
  double total = 0;
  if (sorted.size() >= keep) {
    for (size_t i = 0; i < keep; ++i) total += sorted.weight(i);
  } else {
    for (const auto& c : candidates)
      if (p.min_p <= 0 || weight_of(c.first) >= double(p.min_p)) total += weight_of(c.first);
  }
  if (p.top_p < 1) {
    // Smallest prefix whose mass reaches top_p (at least one token).
    double cumulative = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      sorted.reach(i + 1);
      cumulative += sorted.weight(i) / total;
      if (cumulative >= double(p.top_p)) { cut = i + 1; break; }
    }
    keep = cut;
    total = 0;
    for (size_t i = 0; i < keep; ++i) total += sorted.weight(i);
  }

  const uint64_t r = mix64(mix64(uint64_t(p.seed)) ^ uint64_t(position));
  const double u = double(r >> 11) * (1.0 / 9007199254740992.0) * total;  // [0, total)
  double cumulative = 0;
  for (size_t i = 0; i < keep; ++i) {
    sorted.reach(i + 1);
    cumulative += sorted.weight(i);
    if (u < cumulative) return sorted.id(i);
  }
  sorted.reach(keep);
  return sorted.id(keep - 1);
}

}  // namespace astraea
