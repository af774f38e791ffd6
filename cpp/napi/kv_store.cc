#include "napi/kv_store.h"

#include <cstring>

#ifdef ASTRAEA_WITH_CUDA
#include "cuda/device_model.h"
#endif

namespace astraea::napi {
namespace {

class CpuKvStore final : public KvStore {
 public:
  explicit CpuKvStore(std::shared_ptr<KvCache> cache) : cache_(std::move(cache)) {}
  KvShape shape() const override { return cache_->shape(); }
  size_t block_bytes() const override { return cache_->block_bytes(); }
  DType dtype() const override { return cache_->dtype(); }
  std::vector<float> read_block(bool host_pool, int64_t block) const override { return cache_->read_block(host_pool, block); }
  StepResult step(Model& model, const StepPlan& plan) override { return model.step(*cache_, plan); }

 private:
  std::shared_ptr<KvCache> cache_;
};

#ifdef ASTRAEA_WITH_CUDA
class GpuKvStore final : public KvStore {
 public:
  explicit GpuKvStore(std::unique_ptr<cuda::DeviceModel> gpu) : gpu_(std::move(gpu)) {}
  KvShape shape() const override { return gpu_->kv_shape(); }
  size_t block_bytes() const override {
    const KvShape k = gpu_->kv_shape();
    return size_t(k.num_layers * 2 * k.num_kv_heads * k.block_size * k.head_dim) * 2;  // BF16
  }
  DType dtype() const override { return DType::BF16; }
  std::vector<float> read_block(bool host_pool, int64_t block) const override { return gpu_->read_block(host_pool, block); }
  StepResult step(Model&, const StepPlan& plan) override { return gpu_->step(plan); }

 private:
  std::unique_ptr<cuda::DeviceModel> gpu_;
};
#endif

}  // namespace

std::shared_ptr<KvStore> cpu_kv_store(std::shared_ptr<KvCache> cache) { return std::make_shared<CpuKvStore>(std::move(cache)); }

std::shared_ptr<KvStore> gpu_kv_store(const Model& model, const KvCacheOptions& options) {
#ifdef ASTRAEA_WITH_CUDA
  std::string detail;
  if (!gpu_in_use(detail)) return nullptr;
  return std::make_shared<GpuKvStore>(cuda::DeviceModel::create(
      model.config(), model.weights(), {options.block_size, options.device_blocks, options.host_blocks}));
#else
  (void)model, (void)options;
  return nullptr;
#endif
}

bool gpu_in_use(std::string& detail) {
#ifdef ASTRAEA_WITH_CUDA
  static const std::pair<bool, std::string> probe = [] {
    std::string why;
    const std::string device = cuda::cuda_device_summary(why);
    return device.empty() ? std::make_pair(false, "no usable GPU: " + why) : std::make_pair(true, device);
  }();
  detail = probe.second;
  return probe.first;
#else
  detail = "this build has no CUDA backend";
  return false;
#endif
}

}  // namespace astraea::napi
