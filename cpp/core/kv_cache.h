// The paged KV cache: fixed-size blocks in a device pool (host memory on the CPU backend) and a
// separate host swap pool. Block ids are chosen by the control plane's block manager; this class
// only owns the memory and executes block operations, after checking every id.
//
// Layout of one block: [layer][K|V][kv_head][slot][head_dim] in F32, so a block is one
// contiguous span (a swap is one memcpy) and attention reads each head's keys contiguously.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/mapped_file.h"
#include "core/model_config.h"

namespace astraea {

struct KvCacheOptions {
  int64_t block_size = 16;     // tokens per block
  int64_t device_blocks = 0;   // blocks in the pool the forward pass reads
  int64_t host_blocks = 0;     // blocks in the swap pool
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
  size_t block_bytes() const { return block_floats_ * sizeof(float); }
  KvShape shape() const { return {block_size_, device_blocks_, host_blocks_, num_layers_, num_kv_heads_, head_dim_}; }

  // Keys (or values) of one layer in one device block: [kv_head][slot][head_dim].
  float* keys(int64_t block, int64_t layer) { return layer_base(block, layer); }
  float* values(int64_t block, int64_t layer) { return layer_base(block, layer) + layer_half_floats_; }
  int64_t head_stride() const { return block_size_ * head_dim_; }

  // See the free functions above.
  void check_swap_out(const BlockPairs& device_to_host) const { astraea::check_swap_out(shape(), device_to_host); }
  void check_swap_in(const BlockPairs& host_to_device) const { astraea::check_swap_in(shape(), host_to_device); }
  void check_copy(const BlockPairs& device_to_device) const { astraea::check_copy(shape(), device_to_device); }
  void swap_out(const BlockPairs& device_to_host);
  void swap_in(const BlockPairs& host_to_device);
  void copy(const BlockPairs& device_to_device);
  // The two halves of StepPlan::swap_out_to_vacated: the device sources read into `staged` before
  // the step's swaps, the host destinations written from it after them.
  void stage_device_blocks(const BlockPairs& device_to_host, std::vector<float>& staged) const;
  void write_staged_to_host(const BlockPairs& device_to_host, const std::vector<float>& staged);

  // Raw bytes of one block, for tests and debugging.
  const float* device_block(int64_t block) const;
  const float* host_block(int64_t block) const;

 private:
  float* layer_base(int64_t block, int64_t layer) {
    return reinterpret_cast<float*>(device_->data()) + size_t(block) * block_floats_ + size_t(layer) * 2 * layer_half_floats_;
  }
  int64_t block_size_, device_blocks_, host_blocks_;
  int64_t num_layers_, num_kv_heads_, head_dim_;
  size_t layer_half_floats_;  // kv_heads * block_size * head_dim
  size_t block_floats_;
  std::unique_ptr<AnonymousMemory> device_, host_;
};

}  // namespace astraea
