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

  const std::string logits = string_field(js, "logits", "none");
  if (logits == "none") p.logits = LogitsMode::None;
  else if (logits == "last") p.logits = LogitsMode::Last;
  else if (logits == "all") p.logits = LogitsMode::All;
  else throw EngineError(codes::kInvalidArgument, "plan.logits must be \"none\", \"last\" or \"all\"");
}

}  // namespace astraea::napi
