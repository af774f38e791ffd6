// Which ids a row may draw (core/sampler.h's may_draw), on the device: shared by the sampler and
// the log-probabilities.
#pragma once
#include <cstdint>

#include "cuda/kernels.h"

namespace astraea::cuda {

__device__ inline bool may_draw(const SamplingRows& p, int64_t row, int64_t id) {
  if (id >= p.sampleable) return false;
  const int32_t first = p.mask_offsets[row];
  if (p.mask_offsets[row + 1] == first) return true;
  return (p.masks[first + (id >> 5)] >> (id & 31)) & 1u;
}

}  // namespace astraea::cuda
