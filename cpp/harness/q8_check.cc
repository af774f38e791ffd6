// Correctness check (and optional GEMV and GEMM timings) of the Q8_0 matmul (single and fused) on every SIMD level
// this CPU supports, against a double-precision reference written here from the format's definition
// (core/kernels/matmul_q8.h), sharing no code with the kernels:
//   * the packed layout: pack_q8_quants() puts every quant where the header's formula, computed
//     here, says, for whole and partial groups; unpack_q8_quants() gives the planar rows back;
//   * weights: random planar int8 quants in [-127, 127] and random F16 scales (some zero), stored
//     at misaligned addresses and packed in place there, as the loader does; the reference reads
//     a planar copy, dequantized here as f16 scale x quant;
//   * activations: quantized here per 32-block the way the header defines it (dx = max|x|/127,
//     q = round-half-to-even(x · (127/max|x|)) in F32), then the dot products summed in double.
// The kernel must match to 1e-5 of sum |w·x| (F32 accumulation). The error against the exact
// product with unquantized activations is reported, not checked tightly (it is the activation
// quantization's, by design).
//
// Shapes cover whole 16-block groups (512, 1024), a trailing partial group of every kind the
// kernels tell apart after whole ones and alone: 1, 2, 4 or 8 blocks (544, 1056; 640; 768 = 1.5
// groups; 32, 64, 128) and any other count (96 = 3 blocks, 480, 288, 736).
//
//   cpp/harness/build_q8_check.sh [out-dir] && <out-dir>/q8_check [--time [--threads N]]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/matmul.h"
#include "core/kernels/matmul_q8.h"
#include "core/thread_pool.h"

using namespace astraea;

namespace {

int g_failures = 0;
int g_checks = 0;
double g_worst_vs_exact = 0.0;

struct Rng {
  std::mt19937_64 gen;
  explicit Rng(uint64_t seed) : gen(seed) {}
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen); }
  int64_t range(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); }
};

// A Q8_0 weight: packed quants and planar scales, each array behind a deliberate misalignment,
// for the kernels; the planar quants for the reference.
struct Q8Weight {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> quant_bytes, scale_bytes;
  std::vector<int8_t> planar;
  size_t quant_offset = 0, scale_offset = 0;
  const int8_t* quants() const { return reinterpret_cast<const int8_t*>(quant_bytes.data() + quant_offset); }
  const uint16_t* scales() const { return reinterpret_cast<const uint16_t*>(scale_bytes.data() + scale_offset); }
  WeightView view() const { return WeightView{quants(), DType::Q8_0, rows, cols, scales()}; }
  double at(int64_t r, int64_t c) const {
    return double(f16_to_f32(scales()[r * (cols / 32) + c / 32])) * double(planar[size_t(r * cols + c)]);
  }
};

Q8Weight make_weight(Rng& rng, ThreadPool& pool, int64_t rows, int64_t cols) {
  Q8Weight w;
  w.rows = rows;
  w.cols = cols;
  w.quant_offset = size_t(rng.range(0, 7));
  w.scale_offset = size_t(rng.range(0, 3)) * 2;
  w.quant_bytes.resize(size_t(rows * cols) + w.quant_offset + 64);
  w.scale_bytes.resize(size_t(rows * cols / 32) * 2 + w.scale_offset + 64);
  int8_t* q = reinterpret_cast<int8_t*>(w.quant_bytes.data() + w.quant_offset);
  for (int64_t i = 0; i < rows * cols; ++i) q[i] = int8_t(rng.range(-127, 127));
  // Extremes in a few places: the largest products the integer paths must hold.
  if (rows * cols >= 64) q[0] = 127, q[1] = -127, q[rows * cols - 1] = -127;
  uint16_t* s = reinterpret_cast<uint16_t*>(w.scale_bytes.data() + w.scale_offset);
  for (int64_t i = 0; i < rows * cols / 32; ++i) {
    const float d = rng.range(0, 15) == 0 ? 0.f : rng.uniform(0.0005f, 0.02f);
    s[i] = f32_to_f16(d);
  }
  w.planar.assign(q, q + rows * cols);
  pack_q8_quants(q, rows, cols, pool);
  return w;
}

// Where quant k of a packed row of `cols` sits, from the header's definition: groups of 16
// blocks, the last one of g = nb - 16·group blocks when fewer remain; quant j of the group's
// block b at (j/4)·(4g) + 4b + j mod 4.
int64_t packed_offset(int64_t cols, int64_t k) {
  const int64_t nb = cols / 32, block = k / 32, j = k % 32;
  const int64_t group = block / 16, b = block % 16, g = std::min<int64_t>(16, nb - 16 * group);
  return group * 512 + (j / 4) * (4 * g) + 4 * b + j % 4;
}

// pack_q8_quants() against packed_offset(), in place at a misaligned address; unpack_q8_quants()
// against the original; a bad cols refused.
void check_layout(ThreadPool& pool) {
  Rng rng(0x1a7);
  const int64_t shapes[][2] = {{1, 32}, {3, 96}, {2, 480}, {5, 512}, {3, 544}, {4, 768}, {2, 1024}, {7, 1056}, {67, 2080}};
  for (const auto& shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    std::vector<int8_t> original(size_t(rows * cols));
    for (auto& v : original) v = int8_t(rng.range(-128, 127));
    const size_t offset = size_t(rng.range(1, 63));
    std::vector<int8_t> buf(original.size() + offset + 64, int8_t(0x5a));
    std::copy(original.begin(), original.end(), buf.begin() + std::ptrdiff_t(offset));
    int8_t* packed = buf.data() + offset;
    pack_q8_quants(packed, rows, cols, pool);
    ++g_checks;
    int64_t misplaced = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k) misplaced += packed[r * cols + packed_offset(cols, k)] != original[size_t(r * cols + k)];
    bool guards = true;
    for (size_t i = 0; i < offset; ++i) guards = guards && buf[i] == int8_t(0x5a);
    for (size_t i = offset + original.size(); i < buf.size(); ++i) guards = guards && buf[i] == int8_t(0x5a);
    if (misplaced || !guards) {
      ++g_failures;
      std::printf("FAIL layout rows=%lld cols=%lld: %lld quants misplaced by pack_q8_quants%s\n", (long long)rows, (long long)cols,
                  (long long)misplaced, guards ? "" : ", bytes outside the matrix written");
    }
    std::vector<int8_t> back(original.size() + 1, int8_t(0x5a));
    unpack_q8_quants(packed, rows, cols, back.data());
    ++g_checks;
    if (!std::equal(original.begin(), original.end(), back.begin()) || back.back() != int8_t(0x5a)) {
      ++g_failures;
      std::printf("FAIL layout rows=%lld cols=%lld: unpack(pack(w)) != w\n", (long long)rows, (long long)cols);
    }
  }
  ++g_checks;
  try {
    std::vector<int8_t> q(48);
    pack_q8_quants(q.data(), 1, 48, pool);
    ++g_failures;
    std::printf("FAIL layout: cols = 48 was packed, not refused\n");
  } catch (const EngineError&) {
  }
  std::printf("checks layout  %s\n", g_failures == 0 ? "ok" : "FAILED");
}

// The activation quantization, from the header's definition.
void reference_quantize(const float* x, int64_t cols, std::vector<int>& q, std::vector<double>& d) {
  q.assign(size_t(cols), 0);
  d.assign(size_t(cols / 32), 0.0);
  for (int64_t b = 0; b < cols / 32; ++b) {
    float amax = 0.f;
    for (int64_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    if (amax == 0.f) continue;
    const float inv = 127.f / amax;
    for (int64_t i = 0; i < 32; ++i) {
      const float v = x[b * 32 + i] * inv;
      double whole = std::floor(double(v));
      const double frac = double(v) - whole;
      if (frac > 0.5 || (frac == 0.5 && std::fmod(whole, 2.0) != 0.0)) whole += 1.0;  // half to even
      q[size_t(b * 32 + i)] = int(whole);
    }
    d[size_t(b)] = double(amax / 127.f);
  }
}

bool check(Rng& rng, ThreadPool& pool, int64_t T, int64_t rows, int64_t cols, bool with_bias, const char* label) {
  const Q8Weight w = make_weight(rng, pool, rows, cols);
  const int64_t xoff = rng.range(0, 3);
  std::vector<float> xbuf(size_t(T * cols + xoff));
  for (auto& v : xbuf) v = rng.uniform(-1.f, 1.f);
  float* x = xbuf.data() + xoff;
  // An all-zero block, a tiny block and a large one, where the shape has room.
  if (T * cols >= 128) {
    std::fill(x, x + 32, 0.f);
    for (int64_t i = 32; i < 64; ++i) x[i] *= 1e-6f;
    for (int64_t i = 64; i < 96; ++i) x[i] *= 300.f;
  }
  std::vector<float> bias(static_cast<size_t>(rows));
  for (auto& v : bias) v = rng.uniform(-1.f, 1.f);
  const int64_t guard = 17;
  const float canary = -4242.5f;
  std::vector<float> ybuf(size_t(T * rows + 2 * guard), canary);
  float* y = ybuf.data() + guard;

  matmul(x, T, w.view(), with_bias ? bias.data() : nullptr, y, pool);
  ++g_checks;

  double worst = 0.0;
  int64_t wt = 0, wr = 0;
  std::vector<int> q;
  std::vector<double> d;
  for (int64_t t = 0; t < T; ++t) {
    reference_quantize(x + t * cols, cols, q, d);
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0.0, mag = 0.0, exact = 0.0, exact_mag = 0.0;
      for (int64_t k = 0; k < cols; ++k) {
        const double p = w.at(r, k) * d[size_t(k / 32)] * q[size_t(k)];
        s += p;
        mag += std::fabs(p);
        exact += w.at(r, k) * double(x[t * cols + k]);
        exact_mag += std::fabs(w.at(r, k) * double(x[t * cols + k]));
      }
      const double b = with_bias ? bias[size_t(r)] : 0.0;
      const double err = std::fabs(double(y[t * rows + r]) - (s + b)) / (mag + std::fabs(b) + 1e-30);
      if (!(err <= worst)) {
        worst = std::isnan(err) ? INFINITY : err;
        wt = t;
        wr = r;
      }
      if (exact_mag > 0)
        g_worst_vs_exact = std::max(g_worst_vs_exact, std::fabs(double(y[t * rows + r]) - (exact + b)) / (exact_mag + std::fabs(b)));
    }
  }
  bool ok = worst <= 1e-5;
  for (int64_t i = 0; i < guard; ++i)
    if (ybuf[size_t(i)] != canary || ybuf[size_t(guard + T * rows + i)] != canary) ok = false;
  if (!ok) {
    ++g_failures;
    std::printf("FAIL %-7s T=%lld rows=%lld cols=%lld bias=%d: rel err %.3g at t=%lld r=%lld (or canary overwritten)\n", label,
                (long long)T, (long long)rows, (long long)cols, int(with_bias), worst, (long long)wt, (long long)wr);
  }
  return ok;
}

// Misuse is an EngineError, never a crash; a non-finite activation shows up as NaN.
void check_edges(ThreadPool& pool, const char* label) {
  Rng rng(99);
  auto expect_throw = [&](const WeightView& v, const char* what) {
    std::vector<float> x(size_t(std::max<int64_t>(v.cols, 1)), 1.f), y(size_t(std::max<int64_t>(v.rows, 1)));
    ++g_checks;
    try {
      matmul(x.data(), 1, v, nullptr, y.data(), pool);
      ++g_failures;
      std::printf("FAIL %-7s %s: no error\n", label, what);
    } catch (const EngineError&) {
    }
  };
  const Q8Weight w = make_weight(rng, pool, 3, 64);
  WeightView bad = w.view();
  bad.cols = 48;
  expect_throw(bad, "cols not a multiple of 32");
  bad = w.view();
  bad.scales = nullptr;
  expect_throw(bad, "no scales");

  std::vector<float> x(64, 0.5f), y(3);
  x[40] = NAN;
  matmul(x.data(), 1, w.view(), nullptr, y.data(), pool);
  ++g_checks;
  if (!(std::isnan(y[0]) && std::isnan(y[1]) && std::isnan(y[2]))) {
    ++g_failures;
    std::printf("FAIL %-7s a NaN activation did not give NaN outputs\n", label);
  }
}

// A fused call (q, k, v of different heights) gives each product bit for bit what it gives alone;
// mixing Q8_0 with another dtype is refused.
void check_fused(Rng& rng, ThreadPool& pool, int64_t T, const char* label) {
  const int64_t cols = 288;
  const Q8Weight ws[3] = {make_weight(rng, pool, 133, cols), make_weight(rng, pool, 40, cols), make_weight(rng, pool, 41, cols)};
  std::vector<float> x(size_t(T * cols));
  for (auto& v : x) v = rng.uniform(-1.f, 1.f);
  std::vector<float> bias(133);
  for (auto& v : bias) v = rng.uniform(-1.f, 1.f);
  std::vector<float> alone[3], fused[3];
  MatmulOutput outs[3];
  WeightView views[3];
  for (int i = 0; i < 3; ++i) {
    views[i] = ws[i].view();
    alone[i].assign(size_t(T * views[i].rows), 0.f);
    fused[i].assign(size_t(T * views[i].rows), 0.f);
    matmul(x.data(), T, views[i], i == 0 ? bias.data() : nullptr, alone[i].data(), pool);
    outs[i] = MatmulOutput{&views[i], i == 0 ? bias.data() : nullptr, fused[i].data()};
  }
  matmul_fused(x.data(), T, outs, 3, pool);
  ++g_checks;
  for (int i = 0; i < 3; ++i) {
    if (std::memcmp(alone[i].data(), fused[i].data(), alone[i].size() * 4) != 0) {
      ++g_failures;
      std::printf("FAIL %-7s fused T=%lld: product %d differs from the same product alone\n", label, (long long)T, i);
    }
  }
  std::vector<uint8_t> bf16(size_t(40 * cols) * 2, 0);
  const WeightView other{bf16.data(), DType::BF16, 40, cols};
  const MatmulOutput mixed[2] = {{&views[0], nullptr, fused[0].data()}, {&other, nullptr, fused[1].data()}};
  ++g_checks;
  try {
    matmul_fused(x.data(), T, mixed, 2, pool);
    ++g_failures;
    std::printf("FAIL %-7s a fused call mixing Q8_0 and BF16 was not refused\n", label);
  } catch (const EngineError&) {
  }
}

void run_checks(SimdLevel level, ThreadPool& pool1, ThreadPool& pool2) {
  force_simd_level_for_testing(level);
  const char* label = simd_level_name(level);
  const int before = g_failures;
  Rng rng(0x9800 + uint64_t(level));
  const int64_t Ts[] = {1, 2, 7, 33};
  const int64_t rows_list[] = {1, 3, 5, 7, 9, 13, 31, 67};
  const int64_t cols_list[] = {32, 64, 96, 128, 480, 512, 544, 640, 768, 1024, 1056};
  for (int64_t T : Ts)
    for (int64_t rows : rows_list)
      for (int64_t cols : cols_list)
        check(rng, (T + rows) % 2 ? pool1 : pool2, T, rows, cols, (rows + cols / 32) % 2 == 0, label);
  // Several row chunks and token tiles, with and without bias.
  const int64_t big[][3] = {{1, 517, 768}, {1, 2051, 2048}, {70, 131, 288}, {130, 45, 2080}, {5, 1029, 736}};
  for (const auto& s : big) {
    check(rng, pool2, s[0], s[1], s[2], true, label);
    check(rng, pool2, s[0], s[1], s[2], false, label);
  }
  for (int i = 0; i < 20; ++i)
    check(rng, pool2, rng.range(0, 2) == 0 ? 1 : rng.range(1, 90), rng.range(1, 300), 32 * rng.range(1, 40), rng.range(0, 1) == 1, label);
  check_edges(pool2, label);
  for (int64_t T : {1, 5, 70}) check_fused(rng, pool2, T, label);
  std::printf("checks %-7s %s\n", label, g_failures == before ? "ok" : "FAILED");
}

// Decode-shaped GEMV timing, Q8_0 against BF16, each weight rotated over enough copies (~1 GB)
// that it comes from DRAM. A few seconds; noisy on a shared machine.
void time_gemv(ThreadPool& pool) {
  using Clock = std::chrono::steady_clock;
  const int64_t shapes[][2] = {{2048, 768}, {768, 2048}, {32000, 768}};
  std::printf("\nGEMV (T=1) timing, %s, %d threads; best of many calls, weights from DRAM\n", simd_level_name(simd_level()), pool.size());
  for (const auto& s : shapes) {
    const int64_t rows = s[0], cols = s[1];
    Rng rng(5);
    std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
    for (auto& v : x) v = rng.uniform(-1.f, 1.f);
    double best[2] = {1e9, 1e9};
    double bytes[2] = {0, 0};
    for (int kind = 0; kind < 2; ++kind) {
      const size_t one = kind == 0 ? matrix_bytes(DType::Q8_0, rows, cols) : matrix_bytes(DType::BF16, rows, cols);
      bytes[kind] = double(one);
      const size_t copies = std::max<size_t>(2, (size_t(1) << 30) / one);
      std::vector<std::vector<uint8_t>> store(copies, std::vector<uint8_t>(one));
      // Any finite pattern will do for timing (high bytes below 0x40: no NaN or infinity).
      for (size_t c = 0; c < copies; ++c)
        for (size_t i = 0; i < one; i += 2) store[c][i] = uint8_t(i * 37 + c), store[c][i + 1] = uint8_t((i >> 7) % 60);
      auto view = [&](size_t i) {
        if (kind == 0) return WeightView{store[i].data(), DType::Q8_0, rows, cols,
                                         reinterpret_cast<const uint16_t*>(store[i].data() + rows * cols)};
        return WeightView{store[i].data(), DType::BF16, rows, cols};
      };
      for (size_t i = 0; i < copies; ++i) matmul(x.data(), 1, view(i), nullptr, y.data(), pool);
      const auto start = Clock::now();
      size_t i = 0;
      while (std::chrono::duration<double>(Clock::now() - start).count() < 0.5) {
        const auto a = Clock::now();
        matmul(x.data(), 1, view(i), nullptr, y.data(), pool);
        best[kind] = std::min(best[kind], std::chrono::duration<double>(Clock::now() - a).count());
        i = (i + 1) % copies;
      }
    }
    std::printf("%6lldx%-5lld Q8_0 %8.1f us (%5.1f GB/s)   BF16 %8.1f us (%5.1f GB/s)   speed-up %.2fx\n", (long long)rows,
                (long long)cols, best[0] * 1e6, bytes[0] / best[0] / 1e9, best[1] * 1e6, bytes[1] / best[1] / 1e9, best[1] / best[0]);
  }
}

// Prefill-shaped GEMM timing (T = 128 tokens), Q8_0 against F32, one copy of each weight (it
// stays in cache: this is the compute-bound side). Any finite pattern serves for the timing.
void time_gemm(ThreadPool& pool) {
  using Clock = std::chrono::steady_clock;
  const int64_t T = 128;
  const int64_t shapes[][2] = {{2048, 768}, {768, 2048}, {2304, 768}};
  std::printf("\nGEMM (T=%lld) timing, %s, %d threads; best of many calls, weights in cache\n", (long long)T,
              simd_level_name(simd_level()), pool.size());
  for (const auto& s : shapes) {
    const int64_t rows = s[0], cols = s[1];
    Rng rng(6);
    std::vector<float> x(size_t(T * cols)), y(size_t(T * rows));
    for (auto& v : x) v = rng.uniform(-1.f, 1.f);
    double best[2] = {1e9, 1e9};
    for (int kind = 0; kind < 2; ++kind) {
      const DType dt = kind == 0 ? DType::Q8_0 : DType::F32;
      std::vector<uint8_t> store(matrix_bytes(dt, rows, cols));
      for (size_t i = 0; i < store.size(); i += 2) store[i] = uint8_t(i * 37), store[i + 1] = uint8_t((i >> 7) % 60);
      const uint16_t* scales = kind == 0 ? reinterpret_cast<const uint16_t*>(store.data() + rows * cols) : nullptr;
      const WeightView v{store.data(), dt, rows, cols, scales};
      matmul(x.data(), T, v, nullptr, y.data(), pool);
      const auto start = Clock::now();
      while (std::chrono::duration<double>(Clock::now() - start).count() < 1.0) {
        const auto a = Clock::now();
        matmul(x.data(), T, v, nullptr, y.data(), pool);
        best[kind] = std::min(best[kind], std::chrono::duration<double>(Clock::now() - a).count());
      }
    }
    const double macs = double(T * rows * cols);
    std::printf("%6lldx%-5lld Q8_0 %8.1f us (%6.1f GMAC/s)   F32 %8.1f us (%6.1f GMAC/s)   Q8_0/F32 %.2fx\n", (long long)rows,
                (long long)cols, best[0] * 1e6, macs / best[0] / 1e9, best[1] * 1e6, macs / best[1] / 1e9, best[1] / best[0]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool timing = false;
  int timing_threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--time") == 0) timing = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) timing_threads = std::max(1, std::atoi(argv[++i]));
  }
  const SimdLevel detected = simd_level_detected();
  const SimdLevel startup = simd_level();
  std::printf("detected SIMD level: %s, AVX-512 VNNI: %s\n", simd_level_name(detected), cpu_has_avx512_vnni() ? "yes" : "no");
  ThreadPool pool1(1), pool2(2);
  check_layout(pool2);
  for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512})
    if (int(l) <= int(detected)) run_checks(l, pool1, pool2);
  std::printf("%d checks, %d failures; worst error against unquantized activations: %.3g of sum |w x|\n", g_checks, g_failures,
              g_worst_vs_exact);
  if (timing) {
    force_simd_level_for_testing(startup);
    ThreadPool timing_pool(timing_threads);
    time_gemv(timing_pool);
    time_gemm(timing_pool);
  }
  return g_failures == 0 ? 0 : 1;
}
