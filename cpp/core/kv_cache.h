// The paged KV cache: fixed-size blocks in a device pool (host memory on the CPU backend) and a
// separate host swap pool. Block ids are chosen by the control plane's block manager; this class
// only owns the memory and executes block operations, after checking every id.
//
// Layout of one block: [layer][K|V][kv_head][slot][head_dim] in the cache's element type (F32, or
// BF16 for half the bytes per token), so a block is one contiguous span (a swap is one memcpy,
// whatever the type) and attention reads each head's keys contiguously.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/model_config.h"

namespace astraea {

struct KvCacheOptions {
  int64_t block_size = 16;     // tokens per block
  int64_t device_blocks = 0;   // blocks in the pool the forward pass reads
  int64_t host_blocks = 0;     // blocks in the swap pool
  DType dtype = DType::F32;    // F32 or BF16: keys and values are rounded to it when written
};

// A batch of (source, destination) block id pairs, borrowed from the caller.
struct BlockPairs {
  const int32_t* ids = nullptr;  // 2 * count values: src0, dst0, src1, dst1, ...
  int64_t count = 0;
};

// The sizes a plan's block ids are checked against (the CPU pools here; the GPU backend's pools
// have the same shape).
struct KvShape {
  int64_t block_size, device_blocks, host_blocks;
  int64_t num_layers, num_kv_heads, head_dim;
};

// Throw EngineError INVALID_PLAN naming the offending pair (an id outside its pool, or a
// destination written twice); nothing is moved by a plan that fails.
void check_swap_out(const KvShape& shape, const BlockPairs& device_to_host);
void check_swap_in(const KvShape& shape, const BlockPairs& host_to_device);
void check_copy(const KvShape& shape, const BlockPairs& device_to_device);
// As check_swap_out, and every host destination must be read by one of the step's swap-ins
// (StepPlan::swap_out_to_vacated).
void check_swap_out_to_vacated(const KvShape& shape, const BlockPairs& to_vacated, const BlockPairs& swap_in);

class KvCache {
 public:
  KvCache(const ModelConfig& config, const KvCacheOptions& options);

  int64_t block_size() const { return block_size_; }
  int64_t device_blocks() const { return device_blocks_; }
  int64_t host_blocks() const { return host_blocks_; }
  int64_t num_layers() const { return num_layers_; }
  int64_t num_kv_heads() const { return num_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  DType dtype() const { return dtype_; }
  size_t element_bytes() const { return dtype_size(dtype_); }
  size_t block_bytes() const { return block_elements_ * element_bytes(); }
  KvShape shape() const { return {block_size_, device_blocks_, host_blocks_, num_layers_, num_kv_heads_, head_dim_}; }

  // Keys (or values) of one layer in one device block, [kv_head][slot][head_dim], from element
  // `offset` on: F32 or BF16 elements as dtype() says.
  void* keys(int64_t block, int64_t layer, int64_t offset = 0) { return element(block, layer, 0, offset); }
  void* values(int64_t block, int64_t layer, int64_t offset = 0) { return element(block, layer, 1, offset); }
  int64_t head_stride() const { return block_size_ * head_dim_; }  // elements

  // See the free functions above.
  void check_swap_out(const BlockPairs& device_to_host) const { astraea::check_swap_out(shape(), device_to_host); }
  void check_swap_in(const BlockPairs& host_to_device) const { astraea::check_swap_in(shape(), host_to_device); }
  void check_copy(const BlockPairs& device_to_device) const { astraea::check_copy(shape(), device_to_device); }
  void swap_out(const BlockPairs& device_to_host);
  void swap_in(const BlockPairs& host_to_device);
  void copy(const BlockPairs& device_to_device);
  // The two halves of StepPlan::swap_out_to_vacated: the device sources read into `staged` before
  // the step's swaps, the host destinations written from it after them.
  void stage_device_blocks(const BlockPairs& device_to_host, std::vector<uint8_t>& staged) const;
  void write_staged_to_host(const BlockPairs& device_to_host, const std::vector<uint8_t>& staged);

  // One block widened to F32, for tests and debugging.
  std::vector<float> read_block(bool host_pool, int64_t block) const;

 private:
  void* element(int64_t block, int64_t layer, int64_t half, int64_t offset) {
    const size_t index = size_t(block) * block_elements_ + size_t(2 * layer + half) * layer_half_elements_ + size_t(offset);
    return device_->data() + index * element_bytes();
  }
  int64_t block_size_, device_blocks_, host_blocks_;
  int64_t num_layers_, num_kv_heads_, head_dim_;
  DType dtype_;
  size_t layer_half_elements_;  // kv_heads * block_size * head_dim
  size_t block_elements_;
  std::unique_ptr<AnonymousMemory> device_, host_;
};

}  // namespace astraea
