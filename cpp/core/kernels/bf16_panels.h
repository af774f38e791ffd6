// BF16 weights in 64-row panels, the layout the AVX-512 BF16 kernels read on CPUs that have
// vdpbf16ps (cpu_has_avx512_bf16()); ModelWeights packs every streamed BF16 matrix into it at load.
//
// Layout. Rows are cut into panels of kPanelRows (the last one padded with zero rows); columns into
// pairs (an odd last column paired with a zero). Panel p is ceil(cols/2) words of 64 lanes:
//   word (p, j, r) = W[64p + r][2j] | W[64p + r][2j + 1] << 16      (uint32, two BF16 values)
// at index (p · ceil(cols/2) + j) · 64 + r. So one 64-byte load is the pair j of 16 consecutive
// rows, and vdpbf16ps with the token's pair j broadcast to every lane adds both products to each
// row's own F32 lane: a panel's output lands in lanes as rows, with no horizontal sums at the end,
// and a panel reads as one sequential stream.
//
// Why (docs/performance.md, "BF16 weights in panels"): on rows, a 4-row x 6-token kernel reads
// four 1.5 KB streams per call and sums 24 vectors across lanes at its end. On one core of the
// AMD EPYC VM (docs/results/issue-23/panels/panels_ab.cc), at T = 32: 318-327 GFLOP/s on rows in
// L2 against 424-427 in panels (the core's measured vdpbf16ps peak is ~435), 209-217 against
// 310-328 beyond L2; the two-term GEMV 14-16 GB/s against 23-34.
#pragma once
#include <cstddef>
#include <cstdint>

namespace astraea {

class ThreadPool;

constexpr int64_t kPanelRows = 64;

// Bytes of a rows x cols matrix in panels (padding included).
size_t bf16_panel_bytes(int64_t rows, int64_t cols);

// `rows` row-major BF16 rows (cols each) into panels at `dst` (bf16_panel_bytes of them; must not
// overlap src), panels in parallel on `pool`.
void pack_bf16_panels(const uint16_t* src, int64_t rows, int64_t cols, uint32_t* dst, ThreadPool& pool);

// Rows [r0, r1) of a matrix in panels, back to row-major BF16 at `dst` ((r1 - r0) · cols values).
void unpack_bf16_panels(const uint32_t* panels, int64_t cols, int64_t r0, int64_t r1, uint16_t* dst);

// y[t · ldy + r] = W[r] · x[t] (+ bias[r]) for tokens t < T and rows [r0, r1) of a matrix in
// panels, r0 a multiple of kPanelRows. x is given as BF16 terms, token t's at x_hi + t · ldx (and
// x_lo + t · ldx; null: x is x_hi alone), each zero-padded to an even length >= cols; x_hi + x_lo
// holds x to within 2^-17 of |x| (split_bf16_terms). [prefetch, prefetch_end) is a byte range (the
// caller's next work item) pulled into cache over the call. Only where cpu_has_avx512_bf16().
void gemm_bf16_panels(const uint16_t* x_hi, const uint16_t* x_lo, int64_t ldx, int64_t T, const uint32_t* panels,
                      int64_t cols, const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1,
                      const char* prefetch, const char* prefetch_end);

// The same product for any CPU, x in F32 (token t at x + t · ldx): the panels' pairs widened to
// F32 and multiplied in F32. Used where the kernels run below AVX-512 BF16 on a model packed for
// it (a testing override of the SIMD level).
void gemm_bf16_panels_portable(const float* x, int64_t ldx, int64_t T, const uint32_t* panels, int64_t cols,
                               const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1);

}  // namespace astraea
