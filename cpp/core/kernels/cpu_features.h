// Which SIMD instruction set the kernels use. The library is built without -march flags so that one
// binary runs on any x86-64 (and non-x86) machine; the kernels carry per-function target
// attributes and pick the widest path the CPU and OS support once, at first use.
#pragma once

namespace astraea {

enum class SimdLevel { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The level the kernels dispatch on. Detected on first call and cached. ASTRAEA_SIMD=avx512|avx2|
// scalar may only lower it (asking for more than the CPU has falls back to what it has), so tests
// can exercise the narrower paths on a wide machine without risking illegal instructions.
SimdLevel simd_level();

// What the CPU supports, ignoring ASTRAEA_SIMD and any testing override.
SimdLevel simd_level_detected();

const char* simd_level_name(SimdLevel level);

// Whether the CPU has AVX-512 VNNI (vpdpbusd: int8 dot products), which the Q8_0 kernels use at
// SimdLevel::Avx512. Detected once; independent of ASTRAEA_SIMD (that picks the level, and
// without Avx512 in effect the VNNI path is not taken anyway).
bool cpu_has_avx512_vnni();

// Whether the BF16 GEMV may use AVX-512 BF16 (vdpbf16ps: dot products of BF16 pairs into F32).
// Detected once; false unless Avx512 is in effect; the test hook below can turn it off so the
// plain AVX-512 path is checked on a machine that has it.
bool cpu_has_avx512_bf16();
void allow_avx512_bf16_for_testing(bool allowed);

// Test hook: makes later simd_level() calls return min(level, detected). Not meant to be called
// while kernels run on other threads (a kernel could see two levels within one call, which is
// still correct but would make timings meaningless).
void force_simd_level_for_testing(SimdLevel level);

}  // namespace astraea
