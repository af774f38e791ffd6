// Decode speed of the core without Node: the `small` preset's shape with seeded random weights,
// B sequences prefilled with P tokens (default 128), then decoded one token per step; prints the
// best and mean step, and the prefill's time. What a step costs with no control plane around it
// (docs/performance.md); a long P shows what attention over a long context costs.
//
//   bash cpp/harness/build_decode_speed.sh && build/harness/decode_speed [f32|bf16|q8] [steps] [batch] [f32|bf16 KV] [P]
//       [f32|bf16 activations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/model.h"

namespace {

// presets.ts's `small`.
const char* kSmallConfig =
    R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":768,"num_hidden_layers":12,)"
    R"("num_attention_heads":12,"num_key_value_heads":4,"intermediate_size":2048,"vocab_size":32000,)"
    R"("max_position_embeddings":4096,"rms_norm_eps":1e-5,"rope_theta":10000,"tie_word_embeddings":true,"hidden_act":"silu"})";

astraea::WeightDType weight_dtype(const std::string& s) {
  if (s == "f32") return astraea::WeightDType::F32;
  if (s == "q8") return astraea::WeightDType::Q8_0;
  return astraea::WeightDType::BF16;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dtype = argc > 1 ? argv[1] : "bf16";
  const int steps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 100;
  const int batch = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  const std::string kv = argc > 4 ? argv[4] : (dtype == "f32" ? "f32" : "bf16");
  const int prompt = argc > 5 ? std::max(1, std::atoi(argv[5])) : 128;
  const std::string activations = argc > 6 ? argv[6] : "f32";
  try {
    astraea::ModelOptions options;
    options.config_json = kSmallConfig;
    options.weights.dummy = true;
    options.weights.seed = 1;
    options.weights.dtype = weight_dtype(dtype);
    options.activations = activations == "bf16" ? astraea::Activations::BF16 : astraea::Activations::F32;
    auto model = astraea::Model::load(options);
    const int block_size = 16;
    const int per_seq = (prompt + steps + block_size) / block_size;
    astraea::KvCacheOptions cache_options;
    cache_options.block_size = block_size;
    cache_options.device_blocks = per_seq * batch;
    cache_options.dtype = kv == "f32" ? astraea::DType::F32 : astraea::DType::BF16;
    auto cache = model->create_kv_cache(cache_options);

    std::vector<int32_t> table(size_t(per_seq * batch)), offsets(size_t(batch + 1));
    for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t(i);
    for (int s = 0; s <= batch; ++s) offsets[size_t(s)] = s * per_seq;
    std::vector<float> temperature(size_t(batch), 0.f), top_p(size_t(batch), 1.f);
    std::vector<int32_t> top_k(size_t(batch), 0), tokens, lens(size_t(batch), prompt), positions(size_t(batch), 0);
    std::vector<uint32_t> seeds(size_t(batch), 0);
    auto step = [&] {
      astraea::StepPlan plan;
      plan.num_seqs = batch;
      plan.tokens = tokens.data();
      plan.num_tokens = int64_t(tokens.size());
      plan.query_lens = lens.data();
      plan.start_positions = positions.data();
      plan.block_table_offsets = offsets.data();
      plan.block_ids = table.data();
      plan.num_block_ids = int64_t(table.size());
      plan.temperature = temperature.data();
      plan.top_k = top_k.data();
      plan.top_p = top_p.data();
      plan.seeds = seeds.data();
      plan.logits = astraea::LogitsMode::None;
      return model->step(*cache, plan);
    };
    for (int s = 0; s < batch; ++s)
      for (int i = 0; i < prompt; ++i) tokens.push_back((i * 7919 + s * 104729 + 13) % 32000);
    const auto prefill_start = std::chrono::steady_clock::now();
    step();
    const double prefill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - prefill_start).count();
    std::fill(lens.begin(), lens.end(), 1);
    tokens.assign(size_t(batch), 5);
    double best = 1e9, total = 0;
    for (int i = 0; i < steps; ++i) {
      std::fill(positions.begin(), positions.end(), prompt + i);
      const auto start = std::chrono::steady_clock::now();
      const astraea::StepResult r = step();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::min(best, s);
      total += s;
      for (int b = 0; b < batch; ++b) tokens[size_t(b)] = r.tokens[size_t(b)] >= 0 ? r.tokens[size_t(b)] : 5;
    }
    const double stream_mb = double(model->weights().decode_stream_bytes) / 1e6;
    std::printf("%s weights (%s activations), %s KV, batch %d, prompt %d: prefill %.1f ms; decode best step %.3f ms (%.1f GB/s of weights), mean %.3f ms, %.1f tok/s\n",
                dtype.c_str(), activations.c_str(), kv.c_str(), batch, prompt, prefill_s * 1e3, best * 1e3, stream_mb / best / 1e3, total / steps * 1e3,
                batch * steps / total);
  } catch (const astraea::EngineError& e) {
    std::fprintf(stderr, "decode_speed: %s [%s]\n", e.what(), e.code().c_str());
    return 1;
  }
  return 0;
}
