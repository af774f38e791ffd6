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

// Test hook: makes later simd_level() calls return min(level, detected). Not meant to be called
// while kernels run on other threads (a kernel could see two levels within one call, which is
// still correct but would make timings meaningless).
void force_simd_level_for_testing(SimdLevel level);

}  // namespace astraea
