// matmul_peak_avx2.cpp: 16 independent ymm FMA chains (see matmul_peak.h).
#if defined(__x86_64__)
#include <immintrin.h>

#include "tensor/matmul_peak.h"

namespace cpurich::detail {

double fma_chains_avx2(int64_t iterations, float* sink) {
  constexpr int kChains = 12;  // 12 accumulators + 2 constants fit in 16 ymm
  const __m256 mul = _mm256_set1_ps(sink[0]);
  const __m256 add = _mm256_set1_ps(sink[1]);
  __m256 acc[kChains];
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  }
  __m256 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_ps(total, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  float s = 0.0f;
  for (float v : lanes) s += v;
  sink[2] = s;
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}

}  // namespace cpurich::detail
#endif
