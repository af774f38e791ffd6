// The forward pass on the GPU, with core/model.h's step contract: the same plan (block
// operations, then a mixed batch of prefill chunks and decode tokens), the same validation and
// the same result, over weights uploaded to the device and a BF16 paged KV cache (a device pool
// and a pinned host swap pool). Plain C++ interface: the addon and the device harness use it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/kv_cache.h"
#include "core/model_config.h"
#include "core/step_plan.h"
#include "core/weights.h"

namespace astraea::cuda {

struct DeviceKvOptions {
  int64_t block_size = 16;
  int64_t device_blocks = 0;
  int64_t host_blocks = 0;
};

// The first CUDA device, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)"; empty, with `why` set,
// when there is none or the driver cannot be reached.
std::string cuda_device_summary(std::string& why);

class DeviceModel {
 public:
  // Uploads `weights` (matrices as BF16) and allocates the KV pools. Throws EngineError:
  // OUT_OF_MEMORY when they do not fit, INTERNAL with CUDA's or cuBLAS's message otherwise.
  static std::unique_ptr<DeviceModel> create(const ModelConfig& config, const ModelWeights& weights,
                                             const DeviceKvOptions& kv);
  // Seeded dummy weights generated on the device (no host copy), the values the CPU backend's
  // dummy load with BF16 weights holds for the same seed (core/weights.cc, cuda/dummy_weights.cu).
  static std::unique_ptr<DeviceModel> create_dummy(const ModelConfig& config, uint64_t seed, const DeviceKvOptions& kv);
  ~DeviceModel();
  DeviceModel(const DeviceModel&) = delete;
  DeviceModel& operator=(const DeviceModel&) = delete;

  KvShape kv_shape() const;
  // One block of the device or the host pool, widened to F32 (for tests and debugging).
  std::vector<float> read_block(bool host_pool, int64_t block) const;
  // Checks the whole plan (INVALID_PLAN, nothing runs), then swaps (those the forward pass cannot
  // observe on the copy stream, beside it), copies, the forward pass and sampling on the device.
  StepResult step(const StepPlan& plan);

  struct Impl;  // device_model.cu

 private:
  explicit DeviceModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace astraea::cuda
