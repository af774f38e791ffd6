// Token sampling on the device (core/sampler.cc's semantics). Every row is first masked and
// penalised into the workspace, then gets its argmax — the answer for greedy rows, so a greedy
// batch costs two passes over its logits. Rows that sample are gathered and sorted by logit (a
// stable segmented sort: equal logits stay in id order, masked ids (-inf) last), and one block per
// such row scans the kept probabilities in double to find min_p's and top_k's cut, the nucleus and
// the drawn token.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include <cmath>

#include "core/random.h"
#include "core/sampler.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/sampling_mask.cuh"

namespace astraea::cuda {
namespace {

constexpr int kThreads = 1024;

struct Best {
  float logit;
  int32_t id;
  int32_t not_finite;  // some logit of the row is NaN (the mask kernel's mark for any non-finite one)
};

struct HigherThenLowerId {
  __device__ Best operator()(const Best& a, const Best& b) const {
    Best winner = a.logit > b.logit || (a.logit == b.logit && a.id < b.id) ? a : b;
    winner.not_finite = a.not_finite | b.not_finite;
    return winner;
  }
};

// The row's highest logit, lowest id among equals — or kNonFiniteLogits for a row that had a
// non-finite logit, which nothing may be drawn from (core/sampler.h).
__global__ void argmax_kernel(const float* logits, int64_t vocab, int32_t* tokens) {
  using Reduce = cub::BlockReduce<Best, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const float* row = logits + blockIdx.x * vocab;
  Best best{-INFINITY, INT32_MAX, 0};
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) best = HigherThenLowerId{}(best, Best{row[i], int32_t(i), isnan(row[i]) ? 1 : 0});
  best = Reduce(temp).Reduce(best, HigherThenLowerId{});
  if (threadIdx.x == 0) tokens[blockIdx.x] = best.not_finite ? kNonFiniteLogits : best.id;
}

// One block per row: masked ids to -inf, then the penalties on the row's generated ids, in
// float in the CPU's order and rounding (the intrinsics keep nvcc from fusing them into an FMA).
// A non-finite logit, masked or not, becomes NaN, which the argmax kernel reports for the row.
__global__ void mask_penalise_kernel(const float* logits, int64_t vocab, SamplingRows p, float* out) {
  const int64_t row = blockIdx.x;
  const float* in = logits + row * vocab;
  float* o = out + row * vocab;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) o[i] = !isfinite(in[i]) ? NAN : may_draw(p, row, i) ? in[i] : -INFINITY;
  const float presence = p.presence_penalty[row], frequency = p.frequency_penalty[row];
  if (presence == 0.f && frequency == 0.f) return;
  __syncthreads();
  // Each id appears once per row (the plan check makes sure), so no two threads write one logit.
  for (int64_t j = p.penalty_offsets[row] + threadIdx.x; j < p.penalty_offsets[row + 1]; j += kThreads) {
    const int32_t id = p.penalty_ids[j];
    if (o[id] == -INFINITY) continue;
    const float penalty = __fadd_rn(presence, __fmul_rn(frequency, float(p.penalty_counts[j])));
    o[id] = __fsub_rn(o[id], penalty);
  }
}

__global__ void segment_offsets_kernel(int64_t rows, int64_t vocab, int64_t* offsets) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i <= rows) offsets[i] = i * vocab;
}

__global__ void iota_kernel(int64_t rows, int64_t vocab, int32_t* ids) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * vocab; i += int64_t(gridDim.x) * blockDim.x)
    ids[i] = int32_t(i % vocab);
}

// One block per sampling row, over its logits sorted highest first; `row` is its place in the batch.
__global__ void draw_kernel(const float* sorted_logits, const int32_t* sorted_ids, const int32_t* sampled, int64_t vocab,
                            SamplingRows p, int32_t* tokens) {
  const int64_t row = sampled[blockIdx.x];
  if (tokens[row] == kNonFiniteLogits) return;  // the argmax kernel found a non-finite logit: no draw
  using Scan = cub::BlockScan<double, kThreads>;
  using Count = cub::BlockReduce<int64_t, kThreads>;
  __shared__ typename Scan::TempStorage scan_temp;
  __shared__ typename Count::TempStorage count_temp;
  __shared__ int64_t found;
  __shared__ double carried;
  const float* keys = sorted_logits + int64_t(blockIdx.x) * vocab;
  const int32_t* ids = sorted_ids + int64_t(blockIdx.x) * vocab;
  const double max_logit = keys[0], temperature = p.temperature[row];
  auto weight = [&](int64_t i) { return exp((double(keys[i]) - max_logit) / temperature); };  // p / p_max

  // The allowed ids are the sorted row's finite prefix; top_k and then min_p shorten it (both keep
  // a prefix: the weights fall along the sorted order).
  int64_t finite = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) finite += keys[i] != -INFINITY;
  finite = Count(count_temp).Sum(finite);
  if (threadIdx.x == 0) found = finite;
  __syncthreads();
  const int32_t k = p.top_k[row];
  int64_t kept = k > 0 && k < found ? k : found;
  const float min_p = p.min_p[row];
  if (min_p > 0.f) {
    __syncthreads();  // every thread has read `found`
    int64_t above = 0;
    for (int64_t i = threadIdx.x; i < kept; i += kThreads) above += weight(i) >= double(min_p);
    above = Count(count_temp).Sum(above);
    if (threadIdx.x == 0) found = above > 1 ? above : 1;
    __syncthreads();
    kept = found;
  }
  auto prob = [&](int64_t i) { return i < kept ? weight(i) : 0.0; };

  // Pass 1: the total mass of the kept tokens.
  double total = 0;
  if (threadIdx.x == 0) carried = 0;
  __syncthreads();
  for (int64_t base = 0; base < kept; base += kThreads) {
    double inclusive;
    Scan(scan_temp).InclusiveSum(prob(base + threadIdx.x), inclusive);
    __syncthreads();
    if (threadIdx.x == kThreads - 1) carried += inclusive;
    __syncthreads();
  }
  total = carried;
  __syncthreads();  // every thread has read `carried` before thread 0 resets it

  // Pass 2: the nucleus, the smallest prefix whose share reaches top_p (at least one token).
  int64_t cut = kept;
  const float top_p = p.top_p[row];
  if (top_p < 1.f) {
    if (threadIdx.x == 0) found = kept, carried = 0;
    __syncthreads();
    for (int64_t base = 0; base < kept && found == kept; base += kThreads) {
      double inclusive;
      Scan(scan_temp).InclusiveSum(prob(base + threadIdx.x), inclusive);
      const double before = carried;
      const int64_t i = base + threadIdx.x;
      __syncthreads();
      if (i < kept && (before + inclusive) / total >= double(top_p)) atomicMin(reinterpret_cast<unsigned long long*>(&found), (unsigned long long)(i + 1));
      if (threadIdx.x == kThreads - 1) carried = before + inclusive;
      __syncthreads();
    }
    cut = found;
    // The mass of the nucleus, summed again in the same order.
    if (threadIdx.x == 0) carried = 0;
    __syncthreads();
    for (int64_t base = 0; base < cut; base += kThreads) {
      double inclusive;
      Scan(scan_temp).InclusiveSum(base + threadIdx.x < cut ? prob(base + threadIdx.x) : 0.0, inclusive);
      __syncthreads();
      if (threadIdx.x == kThreads - 1) carried += inclusive;
      __syncthreads();
    }
    total = carried;
    __syncthreads();  // every thread has read `carried` before thread 0 resets it
  }

  // Pass 3: the first token whose running mass passes u · total (the CPU's draw).
  const uint64_t r = mix64(mix64(uint64_t(p.seeds[row])) ^ uint64_t(p.positions[row]));
  const double u = double(r >> 11) * (1.0 / 9007199254740992.0) * total;
  if (threadIdx.x == 0) found = cut - 1, carried = 0;
  __syncthreads();
  for (int64_t base = 0; base < cut; base += kThreads) {
    double inclusive;
    const int64_t i = base + threadIdx.x;
    Scan(scan_temp).InclusiveSum(i < cut ? prob(i) : 0.0, inclusive);
    const double before = carried;
    __syncthreads();
    if (i < cut && u < before + inclusive) atomicMin(reinterpret_cast<unsigned long long*>(&found), (unsigned long long)i);
    if (threadIdx.x == kThreads - 1) carried = before + inclusive;
    __syncthreads();
    if (carried > u) break;  // the drawn token was in this tile (`carried` is shared: every thread leaves together)
  }
  if (threadIdx.x == 0) tokens[row] = ids[found];
}

struct Workspace {
  float* processed;  // every row's logits, masked and penalised
  float* gathered;   // the sampling rows' processed logits
  float* keys;
  int32_t* ids_in;
  int32_t* ids_out;
  int64_t* offsets;
  void* cub_temp;
  size_t cub_bytes;
};

size_t align_up(size_t n) { return (n + 255) & ~size_t(255); }

size_t cub_sort_bytes(int64_t rows, int64_t vocab) {
  size_t bytes = 0;
  cub::DeviceSegmentedSort::StableSortPairsDescending(nullptr, bytes, static_cast<const float*>(nullptr),
                                                      static_cast<float*>(nullptr), static_cast<const int32_t*>(nullptr),
                                                      static_cast<int32_t*>(nullptr), rows * vocab, rows,
                                                      static_cast<const int64_t*>(nullptr), static_cast<const int64_t*>(nullptr));
  return bytes;
}

Workspace carve(void* base, int64_t all_rows, int64_t rows, int64_t vocab) {
  char* p = static_cast<char*>(base);
  Workspace w{};
  w.processed = reinterpret_cast<float*>(p), p += align_up(size_t(all_rows * vocab) * sizeof(float));
  const size_t n = size_t(rows * vocab);
  w.gathered = reinterpret_cast<float*>(p), p += align_up(n * sizeof(float));
  w.keys = reinterpret_cast<float*>(p), p += align_up(n * sizeof(float));
  w.ids_in = reinterpret_cast<int32_t*>(p), p += align_up(n * sizeof(int32_t));
  w.ids_out = reinterpret_cast<int32_t*>(p), p += align_up(n * sizeof(int32_t));
  w.offsets = reinterpret_cast<int64_t*>(p), p += align_up(size_t(rows + 1) * sizeof(int64_t));
  w.cub_temp = p;
  w.cub_bytes = cub_sort_bytes(rows, vocab);
  return w;
}

}  // namespace

size_t sampling_workspace_bytes(int64_t rows, int64_t num_sampled, int64_t vocab) {
  const size_t n = size_t(num_sampled * vocab);
  return align_up(size_t(rows * vocab) * sizeof(float)) + 2 * align_up(n * sizeof(float)) + 2 * align_up(n * sizeof(int32_t)) +
         align_up(size_t(num_sampled + 1) * sizeof(int64_t)) + align_up(cub_sort_bytes(num_sampled, vocab));
}

cudaError_t sample_tokens(const float* logits, int64_t rows, int64_t vocab, const SamplingRows& params,
                          const int32_t* sampled, int64_t num_sampled, void* workspace, size_t workspace_bytes,
                          int32_t* tokens, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (workspace_bytes < sampling_workspace_bytes(rows, num_sampled, vocab)) return cudaErrorInvalidValue;
  Workspace w = carve(workspace, rows, num_sampled, vocab);
  mask_penalise_kernel<<<unsigned(rows), kThreads, 0, stream>>>(logits, vocab, params, w.processed);
  ASTRAEA_CUDA_TRY(launch_status());
  argmax_kernel<<<unsigned(rows), kThreads, 0, stream>>>(w.processed, vocab, tokens);
  ASTRAEA_CUDA_TRY(launch_status());
  if (num_sampled == 0) return cudaSuccess;
  ASTRAEA_CUDA_TRY(gather_rows(w.processed, sampled, num_sampled, vocab, w.gathered, stream));
  segment_offsets_kernel<<<blocks_for(num_sampled + 1, 256), 256, 0, stream>>>(num_sampled, vocab, w.offsets);
  ASTRAEA_CUDA_TRY(launch_status());
  const int64_t n = num_sampled * vocab;
  iota_kernel<<<blocks_for(n, 256) < 65535u ? blocks_for(n, 256) : 65535u, 256, 0, stream>>>(num_sampled, vocab, w.ids_in);
  ASTRAEA_CUDA_TRY(launch_status());
  ASTRAEA_CUDA_TRY(cub::DeviceSegmentedSort::StableSortPairsDescending(w.cub_temp, w.cub_bytes, w.gathered, w.keys, w.ids_in,
                                                                        w.ids_out, n, num_sampled, w.offsets, w.offsets + 1,
                                                                        stream));
  draw_kernel<<<unsigned(num_sampled), kThreads, 0, stream>>>(w.keys, w.ids_out, sampled, vocab, params, tokens);
  return launch_status();
}

}  // namespace astraea::cuda
