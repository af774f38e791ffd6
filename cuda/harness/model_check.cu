// The GPU forward pass (cuda/device_model.cu) against the CPU backend (core/model.cc) on the same
// dummy BF16 weights and the same plans: a prefill of three sequences of different lengths
// (every row's logits), then a decode step that first swaps one sequence's blocks out to the
// host pool and back into other device blocks. ‖gpu − cpu‖ / ‖cpu‖ of the logits per step, for
// the tiny preset and for two layers at Llama-3-8B's widths (GQA 32:8, Llama-3 RoPE scaling).
// Prints one line per check and "model_check: N passed, N failed" last.
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/model.h"
#include "cuda/device_model.h"
#include "cuda/harness/owned_plan.h"

using astraea::cuda::check::OwnedPlan;

namespace {

int passed = 0, failed = 0;

void compare(const char* name, const astraea::StepResult& gpu, const astraea::StepResult& cpu) {
  double diff = 0, norm = 0;
  bool finite = gpu.logits.size() == cpu.logits.size();
  for (size_t i = 0; finite && i < cpu.logits.size(); ++i) {
    finite = std::isfinite(gpu.logits[i]);
    diff += double(gpu.logits[i] - cpu.logits[i]) * double(gpu.logits[i] - cpu.logits[i]);
    norm += double(cpu.logits[i]) * cpu.logits[i];
  }
  int same = 0;
  for (size_t s = 0; s < cpu.tokens.size(); ++s) same += gpu.tokens[s] == cpu.tokens[s];
  const double rel = finite ? std::sqrt(diff / norm) : NAN;
  const bool ok = finite && rel <= 1e-2;
  (ok ? passed : failed)++;
  std::printf("%-40s logits rel err %.3e, greedy tokens %d/%zu equal %s\n", name, rel, same, cpu.tokens.size(), ok ? "ok" : "FAIL");
}

void check_model(const char* name, const std::string& config_json) {
  astraea::ModelOptions options;
  options.config_json = config_json;
  options.weights.dummy = true;
  options.weights.seed = 11;
  options.weights.dtype = astraea::WeightDType::BF16;  // the GPU's weights exactly
  auto cpu = astraea::Model::load(options);
  const int64_t block = 16, device_blocks = 64, host_blocks = 16, vocab = cpu->config().vocab_size;
  auto cache = cpu->create_kv_cache({block, device_blocks, host_blocks});
  auto gpu = astraea::cuda::DeviceModel::create(cpu->config(), cpu->weights(), {block, device_blocks, host_blocks});

  // Prefill: sequences of 5, 37 and 130 tokens in scattered blocks.
  const std::vector<int64_t> lengths = {5, 37, 130};
  std::vector<std::vector<int32_t>> tables = {{40}, {3, 17, 9}, {50, 1, 2, 33, 60, 12, 13, 14, 20}};
  OwnedPlan prefill;
  for (size_t s = 0; s < lengths.size(); ++s) {
    std::vector<int32_t> ids(static_cast<size_t>(lengths[s]));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((s * 131 + i * 17) % size_t(vocab));
    prefill.add(ids, 0, tables[s]);
  }
  const astraea::StepResult cpu_prefill = cpu->step(*cache, prefill.view());
  const astraea::StepResult gpu_prefill = gpu->step(prefill.view());
  compare((std::string(name) + ": prefill 5/37/130 tokens").c_str(), gpu_prefill, cpu_prefill);

  // Decode one token each (the CPU's greedy choice, so both see the same input); sequence 1's
  // three blocks go out to host blocks 4–6 and back into device blocks 21–23 first.
  OwnedPlan decode;
  decode.swap_out = {3, 4, 17, 5, 9, 6};
  decode.swap_in = {4, 21, 5, 22, 6, 23};
  tables[1] = {21, 22, 23};
  for (size_t s = 0; s < lengths.size(); ++s) decode.add({cpu_prefill.tokens[s]}, int32_t(lengths[s]), tables[s]);
  const astraea::StepResult cpu_decode = cpu->step(*cache, decode.view());
  const astraea::StepResult gpu_decode = gpu->step(decode.view());
  compare((std::string(name) + ": decode after swap out and in").c_str(), gpu_decode, cpu_decode);

  // The same weights generated on the device: the same logits, bit for bit.
  auto generated = astraea::cuda::DeviceModel::create_dummy(cpu->config(), options.weights.seed, {block, device_blocks, host_blocks});
  const astraea::StepResult from_device = generated->step(prefill.view());
  const bool same = from_device.logits == gpu_prefill.logits;
  (same ? passed : failed)++;
  std::printf("%-40s %s\n", (std::string(name) + ": device-generated weights").c_str(),
              same ? "logits identical to the uploaded weights' ok" : "logits differ FAIL");
}

}  // namespace

int main() {
  try {
    check_model("tiny preset", R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":128,
      "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":256,"vocab_size":384,
      "max_position_embeddings":2048,"rms_norm_eps":1e-5,"rope_theta":10000,"tie_word_embeddings":true,"hidden_act":"silu"})");
    check_model("Llama-3-8B widths, 2 layers", R"({"architectures":["LlamaForCausalLM"],"model_type":"llama",
      "hidden_size":4096,"num_hidden_layers":2,"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,
      "vocab_size":128256,"max_position_embeddings":131072,"rms_norm_eps":1e-5,"rope_theta":500000,
      "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
      "original_max_position_embeddings":8192},"tie_word_embeddings":false,"hidden_act":"silu"})");
  } catch (const astraea::EngineError& e) {
    std::printf("model_check: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  std::printf("model_check: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
