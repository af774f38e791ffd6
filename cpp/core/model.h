// A loaded Llama-family model and its batched forward pass over the paged KV cache.
// Plain C++: the N-API layer and the C++ harness both drive this class.
//
// Swaps overlapped with compute: a step's swaps that touch no block the forward pass, a copy or
// another swap of the step uses run on the model's copy thread (core/copy_worker.h) while the forward pass runs on the
// kernel pool, the way a GPU engine puts them on a copy stream; the rest run before the forward
// pass. The split and why it preserves the plan's meaning are in core/swap_schedule.h. A step
// always joins its copy job before returning, so nothing touches the cache after step() returns.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/copy_worker.h"
#include "core/kv_cache.h"
#include "core/model_config.h"
#include "core/step_plan.h"
#include "core/thread_pool.h"
#include "core/weights.h"

namespace astraea {

// What the matrices multiply (ModelOptions::activations).
enum class Activations {
  // BF16 where it pays: every matrix BF16 and a CPU that multiplies BF16 pairs natively (AVX-512
  // BF16 in effect); F32 otherwise, where rounding x would cost its mantissa for no speed.
  Auto,
  F32,
  BF16,  // BF16 weights only (INVALID_ARGUMENT otherwise)
};

struct ModelOptions {
  std::string dir;          // Hugging Face model directory
  std::string config_json;  // when set, used instead of dir/config.json (dummy loads need no dir)
  WeightSource weights;     // weights.dir is filled from dir
  int threads = 0;          // 0: one per hardware thread
  // What the matrices multiply: F32 activations, or (BF16 weights only) activations rounded to
  // BF16, as llama.cpp and GPU engines multiply a BF16 model: products of two BF16 values are
  // exact, and on AVX-512 BF16 a batch's matmuls run twice the multiply-adds per instruction and
  // the GEMV reads x as one term instead of two. Rounding costs x 8 bits of its mantissa, as much
  // as the BF16 weights already carry.
  Activations activations = Activations::Auto;
};

class Model {
 public:
  static std::shared_ptr<Model> load(const ModelOptions& options);  // throws EngineError

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return *weights_; }
  int threads() const { return pool_.size(); }

  std::unique_ptr<KvCache> create_kv_cache(const KvCacheOptions& options) const;

  // The KV cache's element type when the user does not choose: BF16 under 16- or 8-bit weights,
  // whose own rounding already exceeds what BF16 keys and values add; F32 under F32 weights, which
  // ask for full precision.
  DType default_kv_dtype() const;

  // Checks the whole plan first (INVALID_PLAN names the first problem; nothing runs then), applies
  // its block operations (background swaps beside the forward pass, see above), runs the forward
  // pass and samples one token per sequence. An error on the copy thread is rethrown here as an
  // EngineError once the copy job has finished. Steps are serialised: concurrent callers wait.
  StepResult step(KvCache& cache, const StepPlan& plan);

 private:
  Model(ModelConfig config, int threads) : config_(std::move(config)), pool_(threads) {}
  void forward(KvCache& cache, const StepPlan& plan, StepResult& result);

  ModelConfig config_;
  ThreadPool pool_;
  std::unique_ptr<ModelWeights> weights_;
  std::vector<float> rope_inv_freq_;
  std::mutex step_mutex_;
  // Destroyed first (declared last): its destructor stops and joins the copy thread, which is idle
  // then, since every step waits for its copy job.
  CopyWorker copier_;

  // Activations, reused across steps (grown on demand).
  std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_, head_in_, logits_, rope_cos_, rope_sin_;
};

// Throws EngineError INVALID_PLAN when the plan does not fit the model and cache (or, for the GPU
// backend, pools of that shape).
void validate_plan(const StepPlan& plan, const ModelConfig& config, const KvCache& cache);
void validate_plan(const StepPlan& plan, const ModelConfig& config, const KvShape& cache);

}  // namespace astraea
