// One engine step as the control plane describes it: block operations, then a mixed batch of
// sequences, each running a prefill chunk or one decode token. All arrays are borrowed from the
// caller (typed arrays on the Node side) and must stay alive until the step returns.
#pragma once
#include <cstdint>
#include <vector>

#include "core/kv_cache.h"

namespace astraea {

enum class LogitsMode { None = 0, Last = 1, All = 2 };

struct StepPlan {
  // Block operations, logically applied in this order before the forward pass (swaps that the
  // forward pass cannot observe actually run beside it: core/swap_schedule.h).
  BlockPairs swap_out;  // device -> host
  BlockPairs swap_in;   // host -> device
  BlockPairs copy;      // device -> device
  // Device -> host into host blocks that this step's swap-ins read: an exchange, in which a job
  // swapped in leaves its host blocks to the KV moved out to make room for it. Each device block
  // is read before anything of the step writes one, each host block written after every swap-out
  // and swap-in (through a staging copy, since a swap-in may land on the very device block). A
  // host block may be a swap-out's destination too: written, read back by a swap-in, then
  // exchanged into (a job sent to the host at a tool wait and back before the copy ran).
  BlockPairs swap_out_to_vacated;

  int64_t num_seqs = 0;
  const int32_t* tokens = nullptr;          // all new tokens, sequence after sequence
  int64_t num_tokens = 0;
  const int32_t* query_lens = nullptr;      // [num_seqs] new tokens per sequence (>= 1)
  const int32_t* start_positions = nullptr; // [num_seqs] position of each sequence's first new token
  // Block tables, concatenated: sequence s uses block_ids[block_table_offsets[s] ..
  // block_table_offsets[s+1]), covering positions [0, start + query_len).
  const int32_t* block_table_offsets = nullptr;  // [num_seqs + 1]
  const int32_t* block_ids = nullptr;
  int64_t num_block_ids = 0;

  // Sampling, per sequence. temperature 0 is greedy (lowest id among equal maxima).
  const float* temperature = nullptr;  // [num_seqs]
  const int32_t* top_k = nullptr;      // [num_seqs] 0: off
  const float* top_p = nullptr;        // [num_seqs] 1: off
  const uint32_t* seeds = nullptr;     // [num_seqs]

  LogitsMode logits = LogitsMode::None;
};

struct StepResult {
  std::vector<int32_t> tokens;  // one sampled token per sequence
  std::vector<float> logits;    // rows x vocab when asked: one row per sequence (Last) or per token (All)
  int64_t logits_rows = 0;
  // Swap timing (core/swap_schedule.h): seconds the step spent on swaps the forward pass had to
  // wait for, seconds the copy thread spent on the others (beside the forward pass), and how many
  // block pairs went to the copy thread.
  double blocking_swap_s = 0;
  double overlapped_swap_s = 0;
  int64_t overlapped_swap_blocks = 0;
};

}  // namespace astraea
