// matmul_microkernel_avx2.cpp: the 6 x 16 AVX2 microkernel.
//
// What it teaches: the same idea as the AVX-512 kernel with half-width
// registers and half as many of them. A ymm register holds 8 floats; the C
// tile is 6 rows x 16 columns = 12 ymm accumulators, plus 2 for the row of B
// and 1 for the broadcast of A: 15 of the 16 ymm registers, 12 independent
// FMA chains per step. This is the classic BLIS/OpenBLAS Haswell shape.
// Compiled with -mavx2 -mfma; only called after cpu_has_avx2() said yes.
#if defined(__x86_64__)
#include <immintrin.h>

#include "tensor/matmul_microkernel.h"

namespace cpurich::detail {
namespace {
constexpr int kMR = 6;  // rows of the C tile; its 16 columns are the two ymm of acc[i]
}  // namespace

void microkernel_avx2_6x16(int64_t kc, const float* a_pack, const float* b_pack, int64_t b_stride,
                           const CTile& tile, float alpha, float beta) {
  __m256 acc[kMR][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b_pack);      // row p of B, columns 0..7
    const __m256 b1 = _mm256_loadu_ps(b_pack + 8);  // columns 8..15
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) {
      const __m256 a = _mm256_broadcast_ss(a_pack + i);  // op(A)(i, p) in every lane
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    a_pack += kMR;
    b_pack += b_stride;  // NR when packed, ldb when read in place
  }
  const __m256 valpha = _mm256_set1_ps(alpha);
  const __m256 vbeta = _mm256_set1_ps(beta);
  // Edge tiles: lanes j >= cols are masked off (maskload reads 0, maskstore skips).
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(tile.cols)), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(tile.cols) - 8), lane);
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) {  // constant trip count: acc stays in registers
    if (i >= tile.rows) break;
    float* row = tile.c + i * tile.ldc;
    __m256 r0 = _mm256_mul_ps(valpha, acc[i][0]);
    __m256 r1 = _mm256_mul_ps(valpha, acc[i][1]);
    if (beta != 0.0f) {  // beta == 0: never read C
      r0 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(row, m0), r0);
      r1 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(row + 8, m1), r1);
    }
    _mm256_maskstore_ps(row, m0, r0);
    _mm256_maskstore_ps(row + 8, m1, r1);
  }
}

}  // namespace cpurich::detail
#endif
