// A step plan that owns its arrays, for the device checks: sequences added one by one, greedy
// sampling, every row's logits.
#pragma once
#include <cstdint>
#include <vector>

#include "core/step_plan.h"

namespace astraea::cuda::check {

struct OwnedPlan {
  std::vector<int32_t> tokens, query_lens, starts, offsets{0}, blocks, swap_out, swap_in, top_k;
  std::vector<float> temperature, top_p;
  std::vector<uint32_t> seeds;

  void add(const std::vector<int32_t>& new_tokens, int32_t start, const std::vector<int32_t>& table) {
    tokens.insert(tokens.end(), new_tokens.begin(), new_tokens.end());
    query_lens.push_back(int32_t(new_tokens.size()));
    starts.push_back(start);
    blocks.insert(blocks.end(), table.begin(), table.end());
    offsets.push_back(int32_t(blocks.size()));
    temperature.push_back(0.f), top_p.push_back(1.f), top_k.push_back(0), seeds.push_back(7);
  }
  astraea::StepPlan view() const {
    astraea::StepPlan p;
    p.swap_out = {swap_out.data(), int64_t(swap_out.size() / 2)};
    p.swap_in = {swap_in.data(), int64_t(swap_in.size() / 2)};
    p.num_seqs = int64_t(query_lens.size());
    p.tokens = tokens.data(), p.num_tokens = int64_t(tokens.size());
    p.query_lens = query_lens.data(), p.start_positions = starts.data();
    p.block_table_offsets = offsets.data(), p.block_ids = blocks.data(), p.num_block_ids = int64_t(blocks.size());
    p.temperature = temperature.data(), p.top_k = top_k.data(), p.top_p = top_p.data(), p.seeds = seeds.data();
    p.logits = astraea::LogitsMode::All;
    return p;
  }
};

}  // namespace astraea::cuda::check
