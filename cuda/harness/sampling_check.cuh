// The device sampler and log-probabilities against the CPU's (core/sampler.cc, core/logprobs.cc,
// built into the harness), on random rows: greedy, temperature, top-k, top-p, both, top-k 1 and
// tied logits; with `extras`, also a sampleable limit (a padded tail of 1/10 of the ids, given the
// best logits so a cut made before the limit would show), allowed-token masks, min_p,
// presence/frequency penalties, and logprobs with 0 to 20 alternatives on every row. Tokens must
// be identical; log-probabilities within 1e-4 (sums run in another order), top ids identical.
#pragma once
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <vector>

#include "core/logprobs.h"
#include "core/sampler.h"
#include "cuda/harness/device_util.cuh"
#include "cuda/kernels.h"

namespace astraea::cuda::check {

inline void check_sampling(int64_t vocab, bool extras, int& passed, int& failed) {
  const int64_t rows = 48, words = (vocab + 31) / 32;
  const int64_t sampleable = extras ? vocab - vocab / 10 : vocab;
  std::normal_distribution<float> normal(0.f, 3.f);
  std::vector<float> logits(size_t(rows * vocab));
  for (int64_t i = 0; i < rows * vocab; ++i) logits[size_t(i)] = normal(rng) + (i % vocab >= sampleable ? 10.f : 0.f);
  for (int64_t i = 0; i < vocab; ++i) logits[size_t(5 * vocab + i)] = float(i % 7);  // ties: argmax must be id 6
  std::vector<float> temperature(static_cast<size_t>(rows)), top_p(static_cast<size_t>(rows)), min_p(static_cast<size_t>(rows)), presence(static_cast<size_t>(rows)),
      frequency(static_cast<size_t>(rows));
  std::vector<int32_t> top_k(static_cast<size_t>(rows)), positions(static_cast<size_t>(rows)), penalty_offsets(1, 0), penalty_ids, penalty_counts,
      mask_offsets(1, 0), top_n(static_cast<size_t>(rows)), all_rows(static_cast<size_t>(rows));
  std::vector<uint32_t> seeds(static_cast<size_t>(rows)), masks;
  for (int64_t r = 0; r < rows; ++r) {
    const int kind = int(r % 6);  // greedy, temperature, top-k, top-p, top-k + top-p, top-k 1
    temperature[size_t(r)] = kind == 0 ? 0.f : 0.5f + 0.25f * float(r % 4);
    top_k[size_t(r)] = kind == 2 || kind == 4 ? 40 : kind == 5 ? 1 : 0;
    top_p[size_t(r)] = kind == 3 || kind == 4 ? 0.9f : 1.f;
    seeds[size_t(r)] = uint32_t(rng());
    positions[size_t(r)] = int32_t(rng() % 100000);
    all_rows[size_t(r)] = int32_t(r);
    top_n[size_t(r)] = extras ? int32_t(r % 21) : 0;
    min_p[size_t(r)] = extras && r % 4 == 1 ? 0.05f : 0.f;
    presence[size_t(r)] = extras && r % 3 == 0 ? 0.5f + 0.1f * float(r % 5) : 0.f;
    frequency[size_t(r)] = extras && r % 3 == 0 ? 0.3f - 0.2f * float(r % 2) : 0.f;
    if (presence[size_t(r)] != 0) {
      for (int64_t id = int64_t(rng() % 7); id < vocab; id += 1 + int64_t(rng() % (vocab / 20 + 1))) {
        penalty_ids.push_back(int32_t(id));
        penalty_counts.push_back(int32_t(1 + rng() % 4));
      }
    }
    penalty_offsets.push_back(int32_t(penalty_ids.size()));
    if (extras && r % 2 == 1) {
      for (int64_t w = 0; w < words; ++w) masks.push_back(uint32_t(rng()));
      masks[masks.size() - size_t(words)] |= 1u;  // id 0: some id below the limit is allowed
    }
    mask_offsets.push_back(int32_t(masks.size()));
  }

  SamplingRows params{to_device(temperature), to_device(top_k), to_device(top_p), to_device(seeds), to_device(positions),
                      to_device(min_p), to_device(presence), to_device(frequency), to_device(penalty_offsets),
                      to_device(penalty_ids), to_device(penalty_counts), to_device(mask_offsets), to_device(masks),
                      sampleable};
  std::vector<int32_t> sampling_rows;  // as the forward pass lists them: the rows that do not take the argmax
  for (int64_t r = 0; r < rows; ++r)
    if (temperature[size_t(r)] > 0 && top_k[size_t(r)] != 1) sampling_rows.push_back(int32_t(r));
  auto* d_logits = to_device(logits);
  auto* d_rows = to_device(sampling_rows);
  const size_t bytes = sampling_workspace_bytes(rows, int64_t(sampling_rows.size()), vocab);
  void* d_work = nullptr;
  CHECK_CUDA(cudaMalloc(&d_work, bytes));
  auto* d_tokens = poisoned<int32_t>(size_t(rows));
  CHECK_CUDA(sample_tokens(d_logits, rows, vocab, params, d_rows, int64_t(sampling_rows.size()), d_work, bytes, d_tokens, nullptr));
  auto* d_all = to_device(all_rows);
  auto* d_top_n = to_device(top_n);
  auto* d_logprob = poisoned<float>(size_t(rows));
  auto* d_top_ids = poisoned<int32_t>(size_t(rows * kMaxTopLogprobs));
  auto* d_top_values = poisoned<float>(size_t(rows * kMaxTopLogprobs));
  auto* d_top_count = poisoned<int32_t>(size_t(rows));
  CHECK_CUDA(token_logprobs(d_logits, vocab, params, d_tokens, d_all, d_top_n, rows, d_logprob, d_top_ids, d_top_values,
                            d_top_count, nullptr));
  const auto tokens = to_host(d_tokens, size_t(rows));
  const auto logprob = to_host(d_logprob, size_t(rows));
  const auto top_ids = to_host(d_top_ids, size_t(rows * kMaxTopLogprobs));
  const auto top_values = to_host(d_top_values, size_t(rows * kMaxTopLogprobs));
  const auto top_count = to_host(d_top_count, size_t(rows));

  SamplerScratch scratch;
  RowLogprobs expected_logprobs;
  int64_t differ = 0, logprobs_differ = 0;
  for (int64_t r = 0; r < rows; ++r) {
    SamplingRow row;
    row.params = {temperature[size_t(r)], top_k[size_t(r)], top_p[size_t(r)], min_p[size_t(r)],
                  presence[size_t(r)], frequency[size_t(r)], seeds[size_t(r)]};
    row.sampleable = sampleable;
    if (mask_offsets[size_t(r + 1)] > mask_offsets[size_t(r)]) row.allowed = masks.data() + mask_offsets[size_t(r)];
    row.output = {penalty_ids.data() + penalty_offsets[size_t(r)], penalty_counts.data() + penalty_offsets[size_t(r)],
                  int64_t(penalty_offsets[size_t(r + 1)] - penalty_offsets[size_t(r)])};
    row.logprobs = true;
    row.top_logprobs = top_n[size_t(r)];
    const float* row_logits = logits.data() + r * vocab;
    const int32_t expected = sample_token(row_logits, vocab, row, positions[size_t(r)], scratch);
    if (tokens[size_t(r)] != expected) ++differ;
    row_logprobs(row_logits, vocab, row, expected, expected_logprobs);  // a differing token fails above already
    bool same = std::fabs(logprob[size_t(r)] - expected_logprobs.token) <= 1e-4f &&
                top_count[size_t(r)] == int32_t(expected_logprobs.top.size());
    for (size_t j = 0; same && j < expected_logprobs.top.size(); ++j)
      same = top_ids[size_t(r * kMaxTopLogprobs) + j] == expected_logprobs.top[j].id &&
             std::fabs(top_values[size_t(r * kMaxTopLogprobs) + j] - expected_logprobs.top[j].logprob) <= 1e-4f;
    if (!same) ++logprobs_differ;
  }
  char name[80];
  std::snprintf(name, sizeof name, "sample_tokens vocab %lld%s = CPU", (long long)vocab, extras ? " +mask/pen" : "");
  (differ == 0 ? passed : failed)++;
  std::printf("%-34s %lld of %lld rows differ %s\n", name, (long long)differ, (long long)rows, differ == 0 ? "ok" : "FAIL");
  if (extras) {
    std::snprintf(name, sizeof name, "token_logprobs vocab %lld = CPU", (long long)vocab);
    (logprobs_differ == 0 ? passed : failed)++;
    std::printf("%-34s %lld of %lld rows differ %s\n", name, (long long)logprobs_differ, (long long)rows,
                logprobs_differ == 0 ? "ok" : "FAIL");
  }
  const std::initializer_list<const void*> buffers = {(const void*)params.temperature, (const void*)params.top_k, (const void*)params.top_p,
                        (const void*)params.seeds, (const void*)params.positions, (const void*)params.min_p,
                        (const void*)params.presence_penalty, (const void*)params.frequency_penalty,
                        (const void*)params.penalty_offsets, (const void*)params.penalty_ids,
                        (const void*)params.penalty_counts, (const void*)params.mask_offsets, (const void*)params.masks,
                        (const void*)d_logits, (const void*)d_rows, (const void*)d_work, (const void*)d_tokens,
                        (const void*)d_all, (const void*)d_top_n, (const void*)d_logprob, (const void*)d_top_ids,
                        (const void*)d_top_values, (const void*)d_top_count};
  for (const void* p : buffers) cudaFree(const_cast<void*>(p));
}

}  // namespace astraea::cuda::check
