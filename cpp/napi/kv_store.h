// What a NativeKvCache holds: the CPU backend's cache, or — in the CUDA build, on a machine with
// a GPU — the GPU model with its pools (cuda/device_model.h). A step runs on whichever the cache
// belongs to, so the JS side never knows which backend it drives.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"

namespace astraea::napi {

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual KvShape shape() const = 0;
  virtual size_t block_bytes() const = 0;  // one block, in the pool's own dtype
  virtual DType dtype() const = 0;
  virtual std::vector<float> read_block(bool host_pool, int64_t block) const = 0;
  virtual StepResult step(Model& model, const StepPlan& plan) = 0;
};

std::shared_ptr<KvStore> cpu_kv_store(std::shared_ptr<KvCache> cache);

// The GPU's pools for `model` (its weights uploaded), or null when this build or machine has no
// usable GPU.
std::shared_ptr<KvStore> gpu_kv_store(const Model& model, const KvCacheOptions& options);

// Whether caches go to the GPU; `detail` is the device, or why not.
bool gpu_in_use(std::string& detail);

}  // namespace astraea::napi
