// Log-probabilities on the device (core/logprobs.cc's definition): one block per row that asked,
// over its raw logits with the row's mask. log Z by two block reductions (the max, then the sum
// of exp in double); the top ids by repeated block argmax, each pass taking the best id ranked
// after the previous pick (at most 20 passes over the row, only for rows that asked).
#include <cub/block/block_reduce.cuh>

#include <cmath>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/sampling_mask.cuh"

namespace astraea::cuda {
namespace {

constexpr int kThreads = 512;

struct Ranked {
  float logit;
  int32_t id;
};

// Higher logit first, then the lower id; INT32_MAX is "none".
__device__ bool ahead(const Ranked& a, const Ranked& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

struct Better {
  __device__ Ranked operator()(const Ranked& a, const Ranked& b) const {
    if (a.id == INT32_MAX) return b;
    if (b.id == INT32_MAX) return a;
    return ahead(a, b) ? a : b;
  }
};

struct Max {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};

__global__ void logprobs_kernel(const float* logits, int64_t vocab, SamplingRows p, const int32_t* tokens,
                                const int32_t* rows, const int32_t* top_n, float* token_logprob, int32_t* top_ids,
                                float* top_logprobs, int32_t* top_count) {
  using ReduceF = cub::BlockReduce<float, kThreads>;
  using ReduceD = cub::BlockReduce<double, kThreads>;
  using ReduceR = cub::BlockReduce<Ranked, kThreads>;
  __shared__ union {
    typename ReduceF::TempStorage f;
    typename ReduceD::TempStorage d;
    typename ReduceR::TempStorage r;
  } temp;
  __shared__ double log_z;
  __shared__ Ranked picked;
  const int64_t item = blockIdx.x, row = rows[item];
  const float* in = logits + row * vocab;

  float local_max = -INFINITY;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads)
    if (may_draw(p, row, i)) local_max = fmaxf(local_max, in[i]);
  const float max_logit = ReduceF(temp.f).Reduce(local_max, Max{});
  if (threadIdx.x == 0) log_z = max_logit;
  __syncthreads();
  const double shift = log_z;
  double local_sum = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads)
    if (may_draw(p, row, i)) local_sum += exp(double(in[i]) - shift);
  __syncthreads();  // temp is reused
  const double sum = ReduceD(temp.d).Sum(local_sum);
  if (threadIdx.x == 0) log_z = shift + log(sum);
  __syncthreads();
  const double lz = log_z;
  // A row with a non-finite logit drew nothing (kNonFiniteLogits): it has no token to price.
  if (threadIdx.x == 0) token_logprob[item] = tokens[row] >= 0 ? float(double(in[tokens[row]]) - lz) : NAN;

  // Pass j takes the best id ranked after pass j - 1's pick.
  Ranked previous{INFINITY, -1};  // ranks ahead of everything
  int32_t count = 0;
  for (int32_t j = 0; j < top_n[item]; ++j) {
    Ranked best{-INFINITY, INT32_MAX};
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
      const Ranked candidate{in[i], int32_t(i)};
      if (may_draw(p, row, i) && ahead(previous, candidate)) best = Better{}(best, candidate);
    }
    __syncthreads();  // temp is reused
    best = ReduceR(temp.r).Reduce(best, Better{});
    if (threadIdx.x == 0) picked = best;
    __syncthreads();
    previous = picked;
    if (previous.id == INT32_MAX) break;  // the row allows fewer ids (every thread sees the same pick)
    if (threadIdx.x == 0) {
      top_ids[item * kMaxTopLogprobs + j] = previous.id;
      top_logprobs[item * kMaxTopLogprobs + j] = float(double(previous.logit) - lz);
    }
    ++count;
  }
  if (threadIdx.x == 0) top_count[item] = count;
}

}  // namespace

cudaError_t token_logprobs(const float* logits, int64_t vocab, const SamplingRows& params, const int32_t* tokens,
                           const int32_t* rows, const int32_t* top_n, int64_t num_rows, float* token_logprob,
                           int32_t* top_ids, float* top_logprobs, int32_t* top_count, cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  logprobs_kernel<<<unsigned(num_rows), kThreads, 0, stream>>>(logits, vocab, params, tokens, rows, top_n, token_logprob,
                                                               top_ids, top_logprobs, top_count);
  return launch_status();
}

}  // namespace astraea::cuda
