// The CUDA backend's speed on Llama-3-8B's shape (32 layers, dummy BF16 weights), each figure
// beside the ceiling measured in the same run (METHOD.md): decode steps at batch 1, 32 and 256
// against the HBM roofline (weight bytes over the device-to-device copy bandwidth); a 2,048-token
// prefill against the BF16 matrix-product rate; swaps each way against a plain pinned copy of the
// same bytes, and a decode step's inflation while a swap runs beside it. Medians of repeated,
// event-timed runs after a warm-up. Prints a table last; with a path argument, also writes the
// figures there as JSON (bench/cuda/run.sh collects them into its figures.json).
//   speed [figures.json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/model.h"
#include "cuda/device_model.h"
#include "cuda/gemm.h"
#include "cuda/harness/device_util.cuh"
#include "cuda/harness/owned_plan.h"

using astraea::cuda::check::OwnedPlan;

namespace {

constexpr int64_t kBlock = 16;

// One measured figure: its median time, the sentence comparing it with its ceiling, and that
// comparison as a number named for what it is (e.g. "x_roofline": 1.12).
struct Row {
  std::string what;
  double ms;
  std::string against;
  std::string figure_name;
  double figure;
};

// The strings here are our own ASCII sentences; quotes and backslashes are escaped all the same.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool write_json(const char* path, const std::string& device, double copy_gbs, double gemm_tflops, double weight_bytes,
                const std::vector<Row>& rows) {
  std::ofstream f(path);
  f << "{\"device\":" << json_string(device) << ",\"copy_gb_s\":" << copy_gbs << ",\"bf16_tflops\":" << gemm_tflops
    << ",\"decode_weight_gb\":" << weight_bytes / 1e9 << ",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i)
    f << (i ? "," : "") << "{\"what\":" << json_string(rows[i].what) << ",\"median_ms\":" << rows[i].ms
      << ",\"against\":" << json_string(rows[i].against) << "," << json_string(rows[i].figure_name) << ":" << rows[i].figure << "}";
  f << "]}\n";
  return bool(f);
}

template <typename F>
double median_ms(int reps, F&& run) {
  std::vector<double> ms;
  run();  // warm-up
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double event_ms(cudaStream_t s, int reps, const std::function<void()>& enqueue) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  enqueue();
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CHECK_CUDA(cudaEventRecord(a, s));
    enqueue();
    CHECK_CUDA(cudaEventRecord(b, s));
    CHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a), cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  cudaDeviceProp props{};
  CHECK_CUDA(cudaGetDeviceProperties(&props, 0));
  cudaStream_t s;
  CHECK_CUDA(cudaStreamCreate(&s));
  // Ceiling 1: device-to-device copy, bytes read plus written, 2 GiB buffers.
  const size_t copy_bytes = size_t(2) << 30;
  void *src = nullptr, *dst = nullptr;
  CHECK_CUDA(cudaMalloc(&src, copy_bytes));
  CHECK_CUDA(cudaMalloc(&dst, copy_bytes));
  CHECK_CUDA(cudaMemset(src, 0x3c, copy_bytes));
  const double copy_ms = event_ms(s, 10, [&] { CHECK_CUDA(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice, s)); });
  const double copy_gbs = 2.0 * double(copy_bytes) / (copy_ms / 1e3) / 1e9;
  cudaFree(src), cudaFree(dst);

  // Ceiling 2: an 8192³ BF16 product through the same wrapper the forward pass uses.
  std::string error;
  auto gemm = astraea::cuda::create_gemm(s, error);
  if (!gemm) return std::printf("speed: %s\n", error.c_str()), 1;
  const int64_t n = 8192;
  std::vector<__nv_bfloat16> host(size_t(n * n));
  for (auto& x : host) x = __float2bfloat16_rn(std::normal_distribution<float>(0.f, 1.f)(astraea::cuda::check::rng));
  auto* a = astraea::cuda::check::to_device(host);
  auto* b = astraea::cuda::check::to_device(host);
  float* c = nullptr;
  CHECK_CUDA(cudaMalloc(&c, size_t(n * n) * 4));
  const double gemm_ms = event_ms(s, 10, [&] { CHECK_CUDA(gemm->run(a, n, n, b, n, c, false)); });
  const double gemm_tflops = 2.0 * double(n) * n * n / (gemm_ms / 1e3) / 1e12;
  cudaFree(a), cudaFree(b), cudaFree(c);
  gemm.reset();

  // The model: Llama-3-8B's config, dummy BF16 weights generated on the device.
  const std::string config_json = R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096,
    "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"vocab_size":128256,
    "max_position_embeddings":131072,"rms_norm_eps":1e-5,"rope_theta":500000,"rope_scaling":{"rope_type":"llama3",
    "factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},
    "tie_word_embeddings":false,"hidden_act":"silu"})";
  try {
    const astraea::ModelConfig config = astraea::parse_model_config(config_json, "speed.cu");
    double weight_bytes = 0;  // what a decode step must stream: every matrix but the embedding, BF16
    for (const astraea::TensorSpec& t : astraea::tensor_specs(config))
      if (t.cols > 0 && t.slot != astraea::WeightSlot::Embed) weight_bytes += 2.0 * double(t.rows * t.cols);
    const int64_t device_blocks = 5600, host_blocks = 512;  // 11 GiB and 1 GiB of K/V
    auto gpu = astraea::cuda::DeviceModel::create_dummy(config, 1, {kBlock, device_blocks, host_blocks});

    // Decode: B sequences of 256 context tokens (prefilled once), then steps of one token each.
    const int64_t context = 256, per_seq_blocks = (context + 64) / kBlock;
    std::vector<Row> rows;
    for (const int64_t batch : {int64_t(1), int64_t(32), int64_t(256)}) {
      std::vector<std::vector<int32_t>> tables(static_cast<size_t>(batch));
      for (int64_t q = 0; q < batch; ++q)
        for (int64_t i = 0; i < per_seq_blocks; ++i) tables[size_t(q)].push_back(int32_t(q * per_seq_blocks + i));
      for (int64_t first = 0; first < batch; first += 16) {  // prefill in groups that fit a step's arrays comfortably
        OwnedPlan prefill;
        for (int64_t q = first; q < std::min(batch, first + 16); ++q)
          prefill.add(std::vector<int32_t>(size_t(context), int32_t(1000 + q)), 0, tables[size_t(q)]);
        gpu->step(prefill.view());
      }
      int64_t position = context;
      const double ms = median_ms(9, [&] {
        OwnedPlan decode;
        for (int64_t q = 0; q < batch; ++q) decode.add({int32_t(7)}, int32_t(position), tables[size_t(q)]);
        gpu->step(decode.view());
        ++position;
      });
      const double roofline_ms = weight_bytes / (copy_gbs * 1e9) * 1e3;
      char against[128];
      std::snprintf(against, sizeof against, "%.2fx the roofline (%.3f ms), %.0f tok/s", ms / roofline_ms, roofline_ms,
                    double(batch) / (ms / 1e3));
      rows.push_back({"decode step, batch " + std::to_string(batch), ms, against, "x_roofline", ms / roofline_ms});
    }
    // Prefill: one 2,048-token chunk.
    {
      std::vector<int32_t> table;
      for (int64_t i = 0; i < 2048 / kBlock; ++i) table.push_back(int32_t(5120 + i));  // past the decode tables
      const double ms = median_ms(5, [&] {
        OwnedPlan prefill;
        prefill.add(std::vector<int32_t>(2048, 11), 0, table);
        gpu->step(prefill.view());
      });
      const double tflops = 2.0 * weight_bytes / 2.0 * 2048 / (ms / 1e3) / 1e12;  // 2 FLOPs per BF16 weight per token
      char against[96];
      std::snprintf(against, sizeof against, "%.0f tok/s, %.0f TFLOP/s = %.0f%% of the product rate", 2048 / (ms / 1e3), tflops,
                    100 * tflops / gemm_tflops);
      rows.push_back({"prefill, 2048-token chunk", ms, against, "fraction_of_product_rate", tflops / gemm_tflops});
    }
    // Swaps: 256 blocks (the K/V of 4,096 tokens) out and back, against a plain pinned copy.
    {
      const size_t block_bytes = size_t(32 * 2 * 8 * kBlock * 128) * 2;
      OwnedPlan out_plan, in_plan;
      for (int32_t i = 0; i < 256; ++i) out_plan.swap_out.insert(out_plan.swap_out.end(), {i, i});
      for (int32_t i = 0; i < 256; ++i) in_plan.swap_in.insert(in_plan.swap_in.end(), {i, 5300 + i});
      const double out_ms = median_ms(5, [&] { gpu->step(out_plan.view()); });
      const double in_ms = median_ms(5, [&] { gpu->step(in_plan.view()); });
      void *pinned = nullptr, *device = nullptr;
      CHECK_CUDA(cudaMallocHost(&pinned, 256 * block_bytes));
      CHECK_CUDA(cudaMalloc(&device, 256 * block_bytes));
      const double plain_out = event_ms(s, 5, [&] { CHECK_CUDA(cudaMemcpyAsync(pinned, device, 256 * block_bytes, cudaMemcpyDeviceToHost, s)); });
      const double plain_in = event_ms(s, 5, [&] { CHECK_CUDA(cudaMemcpyAsync(device, pinned, 256 * block_bytes, cudaMemcpyHostToDevice, s)); });
      cudaFreeHost(pinned), cudaFree(device);
      char a1[96], a2[96];
      std::snprintf(a1, sizeof a1, "%.1f GB/s = %.0f%% of a pinned copy", 256 * block_bytes / (out_ms / 1e3) / 1e9, 100 * plain_out / out_ms);
      std::snprintf(a2, sizeof a2, "%.1f GB/s = %.0f%% of a pinned copy", 256 * block_bytes / (in_ms / 1e3) / 1e9, 100 * plain_in / in_ms);
      rows.push_back({"swap out, 256 blocks (step)", out_ms, a1, "fraction_of_pinned_copy", plain_out / out_ms});
      rows.push_back({"swap in, 256 blocks (step)", in_ms, a2, "fraction_of_pinned_copy", plain_in / in_ms});
    }
    // Step inflation: a batch-32 decode step alone, and with 256 blocks it does not use swapped
    // out beside it (the copy stream), same plan otherwise.
    {
      std::vector<std::vector<int32_t>> tables(32);
      OwnedPlan prefill;
      for (int32_t q = 0; q < 32; ++q) {
        for (int32_t i = 0; i < int32_t(per_seq_blocks); ++i) tables[size_t(q)].push_back(q * int32_t(per_seq_blocks) + i);
        prefill.add(std::vector<int32_t>(size_t(context), 1000 + q), 0, tables[size_t(q)]);
      }
      gpu->step(prefill.view());
      int64_t position = context;
      auto decode_ms = [&](bool with_swap) {
        return median_ms(9, [&] {
          if (position >= context + 60) position = context;  // stay inside the tables
          OwnedPlan decode;
          for (int64_t q = 0; q < 32; ++q) decode.add({int32_t(7)}, int32_t(position), tables[size_t(q)]);
          if (with_swap)
            for (int32_t i = 0; i < 256; ++i) decode.swap_out.insert(decode.swap_out.end(), {4000 + i, 256 + i});
          gpu->step(decode.view());
          ++position;
        });
      };
      const double alone = decode_ms(false), beside = decode_ms(true);
      char against[96];
      std::snprintf(against, sizeof against, "%+.1f%% against the step alone (%.3f ms)", 100 * (beside / alone - 1), alone);
      rows.push_back({"decode batch 32 + 256-block swap-out", beside, against, "inflation", beside / alone - 1});
    }
    std::printf("\ndevice copy %.0f GB/s (read + write), BF16 product %.0f TFLOP/s, weights %.2f GB\n\n", copy_gbs, gemm_tflops,
                weight_bytes / 1e9);
    std::printf("| measurement | median ms | against |\n| --- | ---: | --- |\n");
    for (const Row& r : rows) std::printf("| %s | %.3f | %s |\n", r.what.c_str(), r.ms, r.against.c_str());
    if (argc > 1 && !write_json(argv[1], props.name, copy_gbs, gemm_tflops, weight_bytes, rows))
      return std::printf("speed: cannot write %s\n", argv[1]), 1;
  } catch (const astraea::EngineError& e) {
    std::printf("speed: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  return 0;
}
