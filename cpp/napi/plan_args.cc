#include "napi/plan_args.h"

#include <string>

#include "napi/args.h"

namespace astraea::napi {

namespace {

template <typename A>
A borrow(const Napi::Object& js, const char* key, const char* type_name, bool required, BorrowedPlan& out) {
  A array = typed_array_field<A>(js, key, type_name, required);
  if (!array.IsEmpty()) out.keep_alive.push_back(Napi::Persistent(Napi::Value(array)));
  return array;
}

BlockPairs pairs(const Napi::Object& js, const char* key, BorrowedPlan& out) {
  Napi::Int32Array a = borrow<Napi::Int32Array>(js, key, "Int32Array of (source, destination) pairs", false, out);
  if (a.IsEmpty()) return {};
  if (a.ElementLength() % 2 != 0)
    throw EngineError(codes::kInvalidArgument, std::string("plan.") + key + " must hold (source, destination) pairs");
  return {a.Data(), int64_t(a.ElementLength() / 2)};
}

void expect_length(size_t actual, size_t expected, const char* key) {
  if (actual != expected)
    throw EngineError(codes::kInvalidArgument, std::string("plan.") + key + " has " + std::to_string(actual) +
                                                   " entries; expected " + std::to_string(expected));
}

// A per-sequence list concatenated (penalty counts, allowed-token masks): its offsets must be
// n + 1 entries; the values are checked against them with the rest of the plan.
template <typename A>
A read_ragged(const Napi::Object& js, const char* offsets_key, const char* values_key, const char* type_name, size_t n,
              const int32_t*& offsets, BorrowedPlan& out) {
  auto offs = borrow<Napi::Int32Array>(js, offsets_key, "Int32Array", false, out);
  if (offs.IsEmpty()) {
    offsets = nullptr;
    return borrow<A>(js, values_key, type_name, false, out);
  }
  expect_length(offs.ElementLength(), n + 1, offsets_key);
  offsets = offs.Data();
  return borrow<A>(js, values_key, type_name, true, out);
}

// The optional sampling fields (core/step_plan.h): each absent array is off for every sequence.
void read_sampling_extras(const Napi::Object& js, size_t n, BorrowedPlan& out) {
  StepPlan& p = out.plan;
  auto per_sequence = [&](auto array, const char* key) {
    if (!array.IsEmpty()) expect_length(array.ElementLength(), n, key);
    return array.IsEmpty() ? nullptr : array.Data();
  };
  p.min_p = per_sequence(borrow<Napi::Float32Array>(js, "minP", "Float32Array", false, out), "minP");
  p.presence_penalty = per_sequence(borrow<Napi::Float32Array>(js, "presencePenalty", "Float32Array", false, out), "presencePenalty");
  p.frequency_penalty = per_sequence(borrow<Napi::Float32Array>(js, "frequencyPenalty", "Float32Array", false, out), "frequencyPenalty");
  p.logprobs = per_sequence(borrow<Napi::Uint8Array>(js, "logprobs", "Uint8Array", false, out), "logprobs");
  p.top_logprobs = per_sequence(borrow<Napi::Int32Array>(js, "topLogprobs", "Int32Array", false, out), "topLogprobs");

  auto ids = read_ragged<Napi::Int32Array>(js, "penaltyOffsets", "penaltyIds", "Int32Array", n, p.penalty_offsets, out);
  if (p.penalty_offsets) {
    auto counts = borrow<Napi::Int32Array>(js, "penaltyCounts", "Int32Array", true, out);
    expect_length(counts.ElementLength(), ids.ElementLength(), "penaltyCounts");
    p.penalty_ids = ids.Data();
    p.penalty_counts = counts.Data();
    p.num_penalty_pairs = int64_t(ids.ElementLength());
  } else if (!ids.IsEmpty() || has(js, "penaltyCounts")) {
    throw EngineError(codes::kInvalidArgument, "plan.penaltyIds and plan.penaltyCounts need plan.penaltyOffsets");
  }
  auto masks = read_ragged<Napi::Uint32Array>(js, "allowedMaskOffsets", "allowedMasks", "Uint32Array", n, p.allowed_mask_offsets, out);
  if (p.allowed_mask_offsets) {
    p.allowed_masks = masks.Data();
    p.num_allowed_mask_words = int64_t(masks.ElementLength());
  } else if (!masks.IsEmpty()) {
    throw EngineError(codes::kInvalidArgument, "plan.allowedMasks needs plan.allowedMaskOffsets");
  }
  if (has(js, "sampleableIds")) p.sampleable_ids = int_field(js, "sampleableIds", 0);
}

}  // namespace

void read_step_plan(const Napi::Object& js, BorrowedPlan& out) {
  StepPlan& p = out.plan;
  p.swap_out = pairs(js, "swapOut", out);
  p.swap_in = pairs(js, "swapIn", out);
  p.copy = pairs(js, "copy", out);
  p.swap_out_to_vacated = pairs(js, "swapOutToVacated", out);

  auto query_lens = borrow<Napi::Int32Array>(js, "queryLens", "Int32Array", false, out);
  const size_t n = query_lens.IsEmpty() ? 0 : query_lens.ElementLength();
  p.num_seqs = int64_t(n);
  if (n == 0) return;  // block operations only

  auto tokens = borrow<Napi::Int32Array>(js, "tokens", "Int32Array", true, out);
  auto starts = borrow<Napi::Int32Array>(js, "startPositions", "Int32Array", true, out);
  auto offsets = borrow<Napi::Int32Array>(js, "blockTableOffsets", "Int32Array", true, out);
  auto blocks = borrow<Napi::Int32Array>(js, "blockIds", "Int32Array", true, out);
  auto temperature = borrow<Napi::Float32Array>(js, "temperature", "Float32Array", true, out);
  auto top_k = borrow<Napi::Int32Array>(js, "topK", "Int32Array", true, out);
  auto top_p = borrow<Napi::Float32Array>(js, "topP", "Float32Array", true, out);
  auto seeds = borrow<Napi::Uint32Array>(js, "seeds", "Uint32Array", true, out);
  expect_length(starts.ElementLength(), n, "startPositions");
  expect_length(offsets.ElementLength(), n + 1, "blockTableOffsets");
  expect_length(temperature.ElementLength(), n, "temperature");
  expect_length(top_k.ElementLength(), n, "topK");
  expect_length(top_p.ElementLength(), n, "topP");
  expect_length(seeds.ElementLength(), n, "seeds");

  p.tokens = tokens.Data();
  p.num_tokens = int64_t(tokens.ElementLength());
  p.query_lens = query_lens.Data();
  p.start_positions = starts.Data();
  p.block_table_offsets = offsets.Data();
  p.block_ids = blocks.Data();
  p.num_block_ids = int64_t(blocks.ElementLength());
  p.temperature = temperature.Data();
  p.top_k = top_k.Data();
  p.top_p = top_p.Data();
  p.seeds = seeds.Data();
  read_sampling_extras(js, n, out);

  const std::string logits = string_field(js, "logits", "none");
  if (logits == "none") p.logits = LogitsMode::None;
  else if (logits == "last") p.logits = LogitsMode::Last;
  else if (logits == "all") p.logits = LogitsMode::All;
  else throw EngineError(codes::kInvalidArgument, "plan.logits must be \"none\", \"last\" or \"all\"");
}

}  // namespace astraea::napi
