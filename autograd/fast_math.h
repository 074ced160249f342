// fast_math.h: a vectorisable exp() for the float32 hot loops.
//
// What it teaches: std::exp is a library call, so a loop calling it cannot
// be turned into SIMD instructions (without -ffast-math, which we never use).
// This version is plain arithmetic the compiler can vectorise:
//   e^x = 2^n * e^r   with n = round(x / ln 2) and r = x - n ln 2, |r| <= ln2/2
// 2^n is built directly in the float's exponent bits; e^r is a degree-7
// polynomial (Cephes' expf coefficients), accurate to about 1 ulp.
// It is IEEE arithmetic in a fixed order, so the result is reproducible.
//
// Pipeline position: gelu, softmax inside attention, cross-entropy.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace cpurich::ag::detail {

/// e^x for float, |relative error| < 2e-7 on [-87, 88]; inputs outside are
/// clamped (e^-87 ~ 1.6e-38, e^88 ~ 1.7e38), NaN-free for finite inputs.
inline float exp_f32(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // n = round(x * log2(e)): adding 1.5 * 2^23 forces rounding to an integer.
  const float magic = 12582912.0f;
  const float n = (x * 1.44269504088896341f + magic) - magic;
  // r = x - n ln2, with ln2 split in two parts so n * ln2_hi is exact.
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n as a float
  return er * std::bit_cast<float>(bits);
}

}  // namespace cpurich::ag::detail

// Hot loops are compiled three times (AVX-512, AVX2, baseline x86-64) and the
// loader picks the best for the CPU at start-up (GCC's target_clones). On
// other architectures the plain version is the only one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPURICH_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPURICH_TARGET_CLONES
#endif

namespace cpurich::ag::detail {

/// Number of partial sums in the reductions below: 16 independent
/// accumulators let the CPU overlap additions (and the compiler use SIMD)
/// while the order of operations stays fixed, so results are reproducible.
inline constexpr int kLanes = 16;

/// sum_i a[i] * b[i], accumulated in kLanes partial sums then combined in order.
template <class T>
inline T dot_lanes(const T* a, const T* b, int64_t n) {
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  T s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// sum_i a[i], in the same fixed lane order as dot_lanes.
template <class T>
inline T sum_lanes(const T* a, int64_t n) {
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l];
  T s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += a[i];
  return s;
}

}  // namespace cpurich::ag::detail

namespace cpurich::ag::detail {

/// exp for the kernel templates: the vectorisable version in float, std::exp
/// in double (the float64 path is the reference, not the hot path).
inline float exp_t(float x) {
  return exp_f32(x);
}
/// exp for the kernel templates, double version.
inline double exp_t(double x) {
  return std::exp(x);
}

}  // namespace cpurich::ag::detail
