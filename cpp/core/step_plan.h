// One engine step as the control plane describes it: block operations, then a mixed batch of
// sequences, each running a prefill chunk or one decode token. All arrays are borrowed from the
// caller (typed arrays on the Node side) and must stay alive until the step returns.
#pragma once
#include <cstdint>
#include <optional>
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
  // The rest of the sampling fields are optional: a null array is "off" for every sequence
  // (core/sampler.h gives the order in which they apply).
  const float* min_p = nullptr;              // [num_seqs] in [0, 1]; 0: off
  const float* presence_penalty = nullptr;   // [num_seqs] in [-2, 2]
  const float* frequency_penalty = nullptr;  // [num_seqs] in [-2, 2]
  // What the penalties count: sequence s's (id, count) pairs, the tokens it generated in this
  // segment, are penalty_ids / penalty_counts[penalty_offsets[s] .. penalty_offsets[s + 1]), each
  // id once, each count >= 1.
  const int32_t* penalty_offsets = nullptr;  // [num_seqs + 1]
  const int32_t* penalty_ids = nullptr;
  const int32_t* penalty_counts = nullptr;
  int64_t num_penalty_pairs = 0;
  // Allowed-token masks (constrained decoding's hook): sequence s's bitset over the vocabulary is
  // allowed_masks[allowed_mask_offsets[s] .. allowed_mask_offsets[s + 1]), in 32-bit words; a
  // sequence has no words (no mask) or exactly ceil(vocab / 32). Only allowed ids are drawn.
  const int32_t* allowed_mask_offsets = nullptr;  // [num_seqs + 1]
  const uint32_t* allowed_masks = nullptr;
  int64_t num_allowed_mask_words = 0;
  // Ids at or past this are never drawn, by any sequence: the tokenizer's id count when the LM
  // head is padded past it (Qwen: 151,936 rows, 151,669 ids). Empty: the whole head.
  std::optional<int64_t> sampleable_ids;
  // Log-probabilities to return (core/logprobs.h): 1 for the drawn token's, and this many of the
  // most likely ids' (0 to 20).
  const uint8_t* logprobs = nullptr;      // [num_seqs] 0 or 1
  const int32_t* top_logprobs = nullptr;  // [num_seqs]

  LogitsMode logits = LogitsMode::None;
};

struct StepResult {
  std::vector<int32_t> tokens;  // one sampled token per sequence
  // Log-probabilities, when any sequence asked (else all empty): the drawn token's per sequence
  // (NaN for a sequence that did not ask), and sequence s's top ids and values at
  // [top_logprob_offsets[s], top_logprob_offsets[s + 1]).
  std::vector<float> sampled_logprobs;
  std::vector<int32_t> top_logprob_offsets;
  std::vector<int32_t> top_logprob_ids;
  std::vector<float> top_logprob_values;
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
