#include "core/kv_cache.h"

#include <cstring>
#include <vector>

#include "core/errors.h"

namespace astraea {

KvCache::KvCache(const ModelConfig& c, const KvCacheOptions& o)
    : block_size_(o.block_size),
      device_blocks_(o.device_blocks),
      host_blocks_(o.host_blocks),
      num_layers_(c.num_layers),
      num_kv_heads_(c.num_kv_heads),
      head_dim_(c.head_dim),
      dtype_(o.dtype) {
  if (o.dtype != DType::F32 && o.dtype != DType::BF16)
    throw EngineError(codes::kInvalidArgument, std::string("the KV cache holds F32 or BF16, not ") + dtype_name(o.dtype));
  if (o.block_size < 1 || o.block_size > 1024)
    throw EngineError(codes::kInvalidArgument, "blockSize must be between 1 and 1024, got " + std::to_string(o.block_size));
  if (o.device_blocks < 1) throw EngineError(codes::kInvalidArgument, "deviceBlocks must be at least 1");
  if (o.host_blocks < 0) throw EngineError(codes::kInvalidArgument, "hostBlocks must not be negative");
  layer_half_elements_ = size_t(num_kv_heads_ * block_size_ * head_dim_);
  block_elements_ = size_t(num_layers_) * 2 * layer_half_elements_;
  const double total = double(block_bytes()) * double(device_blocks_ + host_blocks_);
  if (total > double(size_t(1) << 46))
    throw EngineError(codes::kOutOfMemory, "the KV pools would need " + std::to_string(uint64_t(total) >> 30) + " GiB");
  device_ = std::make_unique<AnonymousMemory>(block_bytes() * size_t(device_blocks_), "the device KV pool");
  if (host_blocks_ > 0)
    host_ = std::make_unique<AnonymousMemory>(block_bytes() * size_t(host_blocks_), "the host swap pool");
}

namespace {

void check_pairs(const BlockPairs& pairs, int64_t src_limit, const char* src_pool, int64_t dst_limit, const char* dst_pool,
                 const char* op) {
  if (pairs.count < 0 || (pairs.count > 0 && !pairs.ids))
    throw EngineError(codes::kInvalidPlan, std::string(op) + ": malformed block pair list");
  std::vector<bool> written(size_t(dst_limit), false);
  for (int64_t i = 0; i < pairs.count; ++i) {
    const int32_t src = pairs.ids[2 * i], dst = pairs.ids[2 * i + 1];
    if (src < 0 || src >= src_limit)
      throw EngineError(codes::kInvalidPlan, std::string(op) + " pair " + std::to_string(i) + ": source block " +
                                                 std::to_string(src) + " is outside the " + src_pool + " pool [0, " +
                                                 std::to_string(src_limit) + ")");
    if (dst < 0 || dst >= dst_limit)
      throw EngineError(codes::kInvalidPlan, std::string(op) + " pair " + std::to_string(i) + ": destination block " +
                                                 std::to_string(dst) + " is outside the " + dst_pool + " pool [0, " +
                                                 std::to_string(dst_limit) + ")");
    if (written[size_t(dst)])
      throw EngineError(codes::kInvalidPlan, std::string(op) + ": destination block " + std::to_string(dst) +
                                                 " is written twice");
    written[size_t(dst)] = true;
  }
}

}  // namespace

void check_swap_out(const KvShape& k, const BlockPairs& p) {
  check_pairs(p, k.device_blocks, "device", k.host_blocks, "host", "swapOut");
}
void check_swap_in(const KvShape& k, const BlockPairs& p) {
  check_pairs(p, k.host_blocks, "host", k.device_blocks, "device", "swapIn");
}
void check_copy(const KvShape& k, const BlockPairs& p) {
  check_pairs(p, k.device_blocks, "device", k.device_blocks, "device", "copy");
}

void check_swap_out_to_vacated(const KvShape& k, const BlockPairs& p, const BlockPairs& swap_in) {
  check_pairs(p, k.device_blocks, "device", k.host_blocks, "host", "swapOutToVacated");
  if (p.count == 0) return;
  // The swap-ins' ids may be unchecked yet: only those inside the pool can match.
  std::vector<uint8_t> read_by_swap_in(size_t(k.host_blocks), 0);
  for (int64_t i = 0; i < swap_in.count; ++i) {
    const int32_t host = swap_in.ids[2 * i];
    if (host >= 0 && host < k.host_blocks) read_by_swap_in[size_t(host)] = 1;
  }
  for (int64_t i = 0; i < p.count; ++i) {
    const int32_t host = p.ids[2 * i + 1];
    if (!read_by_swap_in[size_t(host)])
      throw EngineError(codes::kInvalidPlan, "swapOutToVacated pair " + std::to_string(i) + ": host block " +
                                                 std::to_string(host) + " is read by no swap-in of the step");
  }
}

void KvCache::swap_out(const BlockPairs& p) {
  check_swap_out(p);
  const size_t bytes = block_bytes();
  for (int64_t i = 0; i < p.count; ++i)
    std::memcpy(host_->data() + size_t(p.ids[2 * i + 1]) * bytes, device_->data() + size_t(p.ids[2 * i]) * bytes, bytes);
}

void KvCache::swap_in(const BlockPairs& p) {
  check_swap_in(p);
  const size_t bytes = block_bytes();
  for (int64_t i = 0; i < p.count; ++i)
    std::memcpy(device_->data() + size_t(p.ids[2 * i + 1]) * bytes, host_->data() + size_t(p.ids[2 * i]) * bytes, bytes);
}

void KvCache::copy(const BlockPairs& p) {
  check_copy(p);
  const size_t bytes = block_bytes();
  for (int64_t i = 0; i < p.count; ++i) {
    if (p.ids[2 * i] == p.ids[2 * i + 1]) continue;
    std::memcpy(device_->data() + size_t(p.ids[2 * i + 1]) * bytes, device_->data() + size_t(p.ids[2 * i]) * bytes, bytes);
  }
}

void KvCache::stage_device_blocks(const BlockPairs& p, std::vector<uint8_t>& staged) const {
  check_swap_out(p);
  const size_t bytes = block_bytes();
  staged.resize(size_t(p.count) * bytes);
  for (int64_t i = 0; i < p.count; ++i)
    std::memcpy(staged.data() + size_t(i) * bytes, device_->data() + size_t(p.ids[2 * i]) * bytes, bytes);
}

void KvCache::write_staged_to_host(const BlockPairs& p, const std::vector<uint8_t>& staged) {
  check_swap_out(p);
  const size_t bytes = block_bytes();
  if (staged.size() != size_t(p.count) * bytes)
    throw EngineError(codes::kInternal, "the staged blocks do not match the pairs they were staged for");
  for (int64_t i = 0; i < p.count; ++i)
    std::memcpy(host_->data() + size_t(p.ids[2 * i + 1]) * bytes, staged.data() + size_t(i) * bytes, bytes);
}

std::vector<float> KvCache::read_block(bool host_pool, int64_t block) const {
  const int64_t limit = host_pool ? host_blocks_ : device_blocks_;
  if (block < 0 || block >= limit)
    throw EngineError(codes::kInvalidArgument, std::string(host_pool ? "host" : "device") + " block " + std::to_string(block) +
                                                   " is out of range");
  const uint8_t* src = (host_pool ? host_ : device_)->data() + size_t(block) * block_bytes();
  std::vector<float> out(block_elements_);
  for (size_t i = 0; i < block_elements_; ++i) out[i] = load_element(src, dtype_, i);
  return out;
}

}  // namespace astraea
