// The CUDA kernels' launchers, callable from plain C++ (the addon's CUDA backend and the device
// harness). Each enqueues work on `stream` and returns the launch's error (never aborts); the
// caller checks ids and sizes before, as the CPU backend does (core/plan_check.cc).
//
// Conventions: the residual stream is F32 [tokens][hidden]; what feeds a matrix product is BF16;
// the paged KV cache is BF16 in the CPU backend's block layout, [layer][K|V][kv_head][slot][head_dim]
// per block (core/kv_cache.h), so a block is one contiguous span and a swap is one copy.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

// Callable on both sides where a struct's helper is needed in a kernel too.
#ifdef __CUDACC__
#define ASTRAEA_HOST_DEVICE __host__ __device__
#else
#define ASTRAEA_HOST_DEVICE
#endif

namespace astraea::cuda {

enum class TableDType { F32, BF16 };

// out[t] = table[tokens[t]] widened to F32. `table` is [vocab][hidden] in `dtype`.
cudaError_t embedding(const void* table, TableDType dtype, const int32_t* tokens, int64_t num_tokens, int64_t hidden,
                      float* out, cudaStream_t stream);

// Per row: x += residual (when residual is not null), then out = x / rms(x) * weight, in BF16.
// One pass over x: the fused form of "add the block's output, normalise for the next".
cudaError_t add_rmsnorm(float* x, const float* residual, const float* weight, int64_t rows, int64_t hidden, float eps,
                        __nv_bfloat16* out, cudaStream_t stream);

// out = silu(gate) * up elementwise over n values (the SwiGLU middle), in BF16.
cudaError_t silu_mul(const float* gate, const float* up, int64_t n, __nv_bfloat16* out, cudaStream_t stream);

// cos/sin tables for the step: [token][head_dim / 2] of position * inv_freq, the angle in double
// (positions reach 10^5 and beyond; an F32 angle would be off by whole radians' fractions).
cudaError_t rope_tables(const int32_t* positions, int64_t num_tokens, const float* inv_freq, int64_t half, float* cos,
                        float* sin, cudaStream_t stream);

struct PagedKv {
  __nv_bfloat16* pool;   // device pool: blocks × block_elems
  int64_t block_size;    // tokens per block
  int64_t num_layers;
  int64_t num_kv_heads;
  int64_t head_dim;
  // Elements of one block: num_layers × 2 × num_kv_heads × block_size × head_dim.
  ASTRAEA_HOST_DEVICE int64_t block_elems() const { return num_layers * 2 * num_kv_heads * block_size * head_dim; }
};

// Rotate-half RoPE on q and k (Hugging Face form: pairs (j, j + head_dim/2)); q goes to q_out in
// BF16, k and v to the cache of `layer` at slot_mapping[t] = block * block_size + slot.
cudaError_t rope_write_kv(const float* q, const float* k, const float* v, int64_t num_tokens, int64_t num_heads,
                          const float* cos, const float* sin, const int64_t* slot_mapping, const PagedKv& cache,
                          int64_t layer, __nv_bfloat16* q_out, cudaStream_t stream);

// Where each new token of a step sits: its position and its sequence's block table (device
// arrays, the plan's concatenated tables). `max_context` (host) is the largest position + 1.
struct AttentionBatch {
  const int32_t* positions;            // [num_tokens]
  const int32_t* token_seq;            // [num_tokens] the sequence of each token
  const int32_t* block_table_offsets;  // [num_seqs + 1]
  const int32_t* block_ids;
  int64_t num_tokens;
  int64_t max_context;
};

// How many parts each token's context is split into: 1 when tokens × KV heads already fill the
// GPU (prefill), else enough parts of at least 512 positions to give every multiprocessor work.
int64_t attention_splits(int64_t num_tokens, int64_t num_kv_heads, int64_t max_context, int sm_count);
// F32 scratch paged_attention needs for that many splits (0 for one).
int64_t attention_scratch_floats(int64_t num_tokens, int64_t num_heads, int64_t head_dim, int64_t splits);

// out[t][h] = softmax(q[t][h]·K^T / sqrt(head_dim)) V over the token's visible context in the
// cache of `layer`: positions [max(0, p − window + 1), p] (window 0: from 0), K/V head h / group
// (GQA). Every token is handled alike, prefill or decode (core/attention.h's contract). With
// splits > 1, parts are combined through `scratch` (attention_scratch_floats). head_dim must be
// 32, 64, 128 or 256 and num_heads / num_kv_heads at most 8.
cudaError_t paged_attention(const __nv_bfloat16* q, const AttentionBatch& batch, int64_t num_heads, const PagedKv& cache,
                            int64_t layer, int64_t window, int64_t splits, float* scratch, __nv_bfloat16* out,
                            cudaStream_t stream);

// Dummy weights generated where they live (no host copy of 16 GB): element i of a tensor is
// center + amplitude · (2u − 1), u from mix64(tensor_seed + i · φ), bit-identical to the CPU
// backend's dummy load (core/weights.cc) for the same seed, so the two backends can be compared.
cudaError_t dummy_fill(void* dst, TableDType dtype, int64_t count, uint64_t tensor_seed, float amplitude, float center,
                       cudaStream_t stream);

// Per-row sampling parameters, device arrays of `rows` values (core/sampler.h's meaning). Every
// array is present (the host fills "off" values for fields a plan leaves out).
struct SamplingRows {
  const float* temperature;  // 0: greedy
  const int32_t* top_k;      // 0: all tokens
  const float* top_p;        // 1: no nucleus cut
  const uint32_t* seeds;
  const int32_t* positions;  // the draw depends only on (seed, position), as on the CPU
  const float* min_p;        // 0: off
  const float* presence_penalty;
  const float* frequency_penalty;
  // Row r's generated-token counts: penalty_ids / penalty_counts[penalty_offsets[r] .. [r + 1]).
  const int32_t* penalty_offsets;  // [rows + 1]
  const int32_t* penalty_ids;
  const int32_t* penalty_counts;
  // Row r's allowed-token bitset: masks[mask_offsets[r] .. [r + 1]), no words (no mask) or ceil(vocab / 32).
  const int32_t* mask_offsets;  // [rows + 1]
  const uint32_t* masks;
  int64_t sampleable;  // ids at or past this are never drawn
};

// Device bytes of scratch sample_tokens needs for `rows` rows, `num_sampled` of which sample.
size_t sampling_workspace_bytes(int64_t rows, int64_t num_sampled, int64_t vocab);

// One token per row of F32 logits, on the device, so only token ids cross PCIe. Every row is
// first masked (ids past `sampleable` or outside its mask become -inf) and penalised, as
// core/sampler.cc does, into the workspace; every row then gets its argmax (lowest id among
// equals): the answer for greedy rows. `sampled` (device, the host knows `num_sampled`) lists the
// rows that sample (temperature > 0 and top_k != 1); only those are copied out and sorted (stable,
// so equal logits keep id order, the CPU's tie-break), drop the masked ids, soften by the
// temperature in double, keep min_p and top_k, cut the nucleus at top_p, and draw with the CPU's
// counter-based uniform. Prefix sums run in a different order from the CPU's, so a draw that
// lands within rounding of a boundary may differ. Every row's mask must allow some id.
cudaError_t sample_tokens(const float* logits, int64_t rows, int64_t vocab, const SamplingRows& params,
                          const int32_t* sampled, int64_t num_sampled, void* workspace, size_t workspace_bytes,
                          int32_t* tokens, cudaStream_t stream);

constexpr int kMaxTopLogprobs = 20;  // core/sampler.h's

// Log-probabilities (core/logprobs.h's definition: the log softmax of the raw logits over the ids
// the row may draw) for the `num_rows` rows listed in `rows` (device): of the drawn token
// (`tokens`, indexed by row), into token_logprob[i], and of the top_n[i] (<= 20) most likely ids,
// into top_ids / top_logprobs[i × 20 ..], with top_count[i] how many there were (fewer when the
// row allows fewer ids).
cudaError_t token_logprobs(const float* logits, int64_t vocab, const SamplingRows& params, const int32_t* tokens,
                           const int32_t* rows, const int32_t* top_n, int64_t num_rows, float* token_logprob,
                           int32_t* top_ids, float* top_logprobs, int32_t* top_count, cudaStream_t stream);

// dst[i] = src[rows[i]] for n rows of `width` values (the LM head's rows, the sampled rows).
cudaError_t gather_rows(const float* src, const int32_t* rows, int64_t n, int64_t width, float* dst, cudaStream_t stream);
cudaError_t gather_rows(const __nv_bfloat16* src, const int32_t* rows, int64_t n, int64_t width, __nv_bfloat16* dst,
                        cudaStream_t stream);

// x[r][i] += bias[i] over `rows` rows of `width` (Qwen2's q/k/v biases, an o_proj bias).
cudaError_t add_bias(float* x, const float* bias, int64_t rows, int64_t width, cudaStream_t stream);

// Block copies, `count` (source, destination) id pairs as the plan gives them (host memory).
// Device → pinned host pool, pinned host → device, device → device. Enqueued on `stream` (the
// copy stream); the caller records an event after and makes the compute stream wait on it where
// the forward pass reads what was copied.
cudaError_t swap_out_blocks(const __nv_bfloat16* device_pool, __nv_bfloat16* host_pool, int64_t block_elems,
                            const int32_t* pairs, int64_t count, cudaStream_t stream);
cudaError_t swap_in_blocks(const __nv_bfloat16* host_pool, __nv_bfloat16* device_pool, int64_t block_elems,
                           const int32_t* pairs, int64_t count, cudaStream_t stream);
cudaError_t copy_blocks(__nv_bfloat16* device_pool, int64_t block_elems, const int32_t* pairs, int64_t count,
                        cudaStream_t stream);
// An exchange (StepPlan::swap_out_to_vacated) in two halves on `stream`: each pair's device block
// copied to slot i of `staging` (device memory, count blocks) before the step's swaps, then, once
// the swap-ins have read the host blocks, slot i to the pair's host block.
cudaError_t stage_blocks(const __nv_bfloat16* device_pool, __nv_bfloat16* staging, int64_t block_elems,
                         const int32_t* pairs, int64_t count, cudaStream_t stream);
cudaError_t write_staged_to_host(const __nv_bfloat16* staging, __nv_bfloat16* host_pool, int64_t block_elems,
                                 const int32_t* pairs, int64_t count, cudaStream_t stream);

}  // namespace astraea::cuda
