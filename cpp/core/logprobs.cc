#include "core/logprobs.h"

#include <cmath>

namespace astraea {

namespace {

bool before(const TokenLogprob& a, float logit, int32_t id) { return a.logprob > logit || (a.logprob == logit && a.id < id); }

}  // namespace

void row_logprobs(const float* logits, int64_t vocab, const SamplingRow& row, int32_t token, RowLogprobs& out) {
  // log Z = max + log Σ exp(l - max) over the allowed ids, in double.
  double max_logit = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i)
    if (may_draw(row, i) && logits[i] > max_logit) max_logit = logits[i];
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    if (may_draw(row, i)) sum += std::exp(double(logits[i]) - max_logit);
  const double log_z = max_logit + std::log(sum);
  out.token = float(double(logits[token]) - log_z);

  // The best `top_logprobs` ids, kept sorted (by logit first, converted at the end): an insertion
  // into at most 20 entries, and most ids fail the first comparison.
  const size_t n = size_t(row.top_logprobs);
  out.top.clear();
  if (n == 0) return;
  for (int64_t i = 0; i < vocab; ++i) {
    if (!may_draw(row, i)) continue;
    const float l = logits[i];
    if (out.top.size() == n && !before(TokenLogprob{int32_t(i), l}, out.top.back().logprob, out.top.back().id)) continue;
    size_t at = out.top.size();
    while (at > 0 && !before(out.top[at - 1], l, int32_t(i))) --at;
    out.top.insert(out.top.begin() + std::ptrdiff_t(at), TokenLogprob{int32_t(i), l});
    if (out.top.size() > n) out.top.pop_back();
  }
  for (TokenLogprob& t : out.top) t.logprob = float(double(t.logprob) - log_z);
}

}  // namespace astraea
