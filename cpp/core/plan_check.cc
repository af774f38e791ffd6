// Every index in a plan is checked before anything runs: a bad plan from a buggy scheduler must
// fail loudly with the sequence and value at fault, never read or write outside the pools.
#include <string>
#include <unordered_set>

#include "core/errors.h"
#include "core/model.h"
#include "core/plan_sampling.h"

namespace astraea {

namespace {

[[noreturn]] void bad(const std::string& why) { throw EngineError(codes::kInvalidPlan, why); }

std::string seq_name(int64_t s) { return "sequence " + std::to_string(s); }

}  // namespace

void validate_plan(const StepPlan& p, const ModelConfig& c, const KvCache& cache) { validate_plan(p, c, cache.shape()); }

void validate_plan(const StepPlan& p, const ModelConfig& c, const KvShape& cache) {
  check_swap_out(cache, p.swap_out);
  check_swap_in(cache, p.swap_in);
  check_copy(cache, p.copy);
  check_swap_out_to_vacated(cache, p.swap_out_to_vacated, p.swap_in);
  if (cache.num_layers != c.num_layers || cache.num_kv_heads != c.num_kv_heads || cache.head_dim != c.head_dim)
    throw EngineError(codes::kInvalidArgument, "the KV cache was created for a different model");
  if (p.num_seqs < 0) bad("negative sequence count");
  if (p.num_seqs == 0) {
    if (p.num_tokens != 0) bad("tokens given but no sequences");
    return;
  }
  if (!p.tokens || !p.query_lens || !p.start_positions || !p.block_table_offsets || !p.temperature || !p.top_k ||
      !p.top_p || !p.seeds)
    bad("a per-sequence array is missing");

  const int64_t bs = cache.block_size;
  int64_t tokens_seen = 0;
  if (p.block_table_offsets[0] != 0) bad("blockTableOffsets must start at 0");
  std::unordered_set<int64_t> written_slots;
  for (int64_t s = 0; s < p.num_seqs; ++s) {
    const int64_t n = p.query_lens[s], start = p.start_positions[s];
    if (n < 1) bad(seq_name(s) + " has " + std::to_string(n) + " new tokens; each sequence needs at least one");
    if (start < 0) bad(seq_name(s) + " starts at negative position " + std::to_string(start));
    if (start + n > c.max_position_embeddings)
      bad(seq_name(s) + " reaches position " + std::to_string(start + n - 1) + " but the model's context is " +
          std::to_string(c.max_position_embeddings) + " positions");
    const int64_t t0 = p.block_table_offsets[s], t1 = p.block_table_offsets[s + 1];
    if (t1 < t0 || t1 > p.num_block_ids) bad(seq_name(s) + " has a malformed block table range");
    const int64_t needed = (start + n + bs - 1) / bs;
    if (t1 - t0 < needed)
      bad(seq_name(s) + " covers positions up to " + std::to_string(start + n - 1) + " and needs " +
          std::to_string(needed) + " blocks, but its block table has " + std::to_string(t1 - t0));
    for (int64_t b = t0; b < t0 + needed; ++b) {
      const int32_t id = p.block_ids[b];
      if (id < 0 || id >= cache.device_blocks)
        bad(seq_name(s) + " block table entry " + std::to_string(b - t0) + " is block " + std::to_string(id) +
            ", outside the device pool [0, " + std::to_string(cache.device_blocks) + ")");
    }
    for (int64_t pos = start; pos < start + n; ++pos) {
      const int64_t slot = int64_t(p.block_ids[t0 + pos / bs]) * bs + pos % bs;
      if (!written_slots.insert(slot).second)
        bad(seq_name(s) + " writes KV slot " + std::to_string(slot) + " that another token of this step also writes");
    }
    if (tokens_seen + n > p.num_tokens)
      bad("the query lengths add up to more than the " + std::to_string(p.num_tokens) + " tokens given");
    for (int64_t i = 0; i < n; ++i) {
      const int32_t tok = p.tokens[tokens_seen + i];
      if (tok < 0 || tok >= c.vocab_size)
        bad(seq_name(s) + " token " + std::to_string(i) + " is id " + std::to_string(tok) + ", outside the vocabulary [0, " +
            std::to_string(c.vocab_size) + ")");
    }
    tokens_seen += n;
  }
  if (tokens_seen != p.num_tokens)
    bad("the query lengths add up to " + std::to_string(tokens_seen) + " tokens but " + std::to_string(p.num_tokens) +
        " were given");
  validate_sampling(p, c.vocab_size);
}

}  // namespace astraea
