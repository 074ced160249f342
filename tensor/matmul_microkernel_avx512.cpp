// matmul_microkernel_avx512.cpp: the 14 x 32 AVX-512 microkernel.
//
// What it teaches: how to keep two FMA units busy. A zmm register holds 16
// floats; the C tile is 14 rows x 32 columns = 28 zmm accumulators. Per step p
// we load 2 zmm of B, broadcast 14 values of A and issue 28 independent FMAs:
// with an FMA latency of 4 cycles and 2 FMA pipes, at least 8 independent
// chains are needed to never stall, and 28 leaves room. 28 accumulators + 2 B
// registers + 1 broadcast = 31 of the 32 zmm registers.
// This file is compiled with -mavx512f...; it is only called after
// cpu_has_avx512() said yes. Off x86-64 it compiles to nothing.
#if defined(__x86_64__)
#include <immintrin.h>

#include "tensor/matmul_microkernel.h"

namespace cpurich::detail {
namespace {
constexpr int kMR = 14;
constexpr int kNR = 32;
}  // namespace

void microkernel_avx512_14x32(int64_t kc, const float* a_pack, const float* b_pack, float* c,
                              int64_t ldc, float alpha, float beta) {
  __m512 acc[kMR][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b_pack);  // row p of B, columns 0..15
    const __m512 b1 = _mm512_loadu_ps(b_pack + 16);  // columns 16..31
#pragma GCC unroll 14
    for (int i = 0; i < kMR; ++i) {
      const __m512 a = _mm512_set1_ps(a_pack[i]);  // op(A)(i, p) in every lane
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    a_pack += kMR;
    b_pack += kNR;
  }
  const __m512 valpha = _mm512_set1_ps(alpha);
  const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(valpha, acc[i][0]);
    __m512 r1 = _mm512_mul_ps(valpha, acc[i][1]);
    if (beta != 0.0f) {  // beta == 0: never read C
      r0 = _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(row), r0);
      r1 = _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(row + 16), r1);
    }
    _mm512_storeu_ps(row, r0);
    _mm512_storeu_ps(row + 16, r1);
  }
}

}  // namespace cpurich::detail
#endif
