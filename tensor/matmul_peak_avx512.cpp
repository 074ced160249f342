// matmul_peak_avx512.cpp: 16 independent zmm FMA chains (see matmul_peak.h).
#if defined(__x86_64__)
#include <immintrin.h>

#include "tensor/matmul_peak.h"

namespace cpurich::detail {

double fma_chains_avx512(int64_t iterations, float* sink) {
  constexpr int kChains = 16;
  // x * 1 + tiny keeps every value finite and normal for any iteration count;
  // loading the constants through `sink` stops the compiler from folding them.
  const __m512 mul = _mm512_set1_ps(sink[0]);
  const __m512 add = _mm512_set1_ps(sink[1]);
  __m512 acc[kChains];
#pragma GCC unroll 16
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  }
  __m512 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_ps(total, acc[c]);
  alignas(64) float lanes[16];  // (not _mm512_reduce_add_ps: GCC 12 warns inside it)
  _mm512_store_ps(lanes, total);
  float s = 0.0f;
  for (float v : lanes) s += v;
  sink[2] = s;
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

}  // namespace cpurich::detail
#endif
