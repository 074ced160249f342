// matmul_microkernel_avx512.cpp: the 14 x 32 AVX-512 microkernel and its A packing.
//
// What it teaches: how to keep two FMA units busy. A zmm register holds 16
// floats; the C tile is 14 rows x 32 columns = 28 zmm accumulators. Per step p
// we load 2 zmm of B, broadcast 14 values of A and issue 28 independent FMAs:
// with an FMA latency of 4 cycles and 2 FMA pipes, at least 8 independent
// chains are needed to never stall, and 28 leaves room. 28 accumulators + 2 B
// registers + 1 broadcast = 31 of the 32 zmm registers. Edge tiles use mask
// registers (k0..k7): masked lanes are neither loaded nor stored.
// This file is compiled with -mavx512f...; it is only called after
// cpu_has_avx512() said yes. Off x86-64 it compiles to nothing.
#if defined(__x86_64__)
// GCC 12 warns inside its own AVX-512 shuffle intrinsics (they start from an
// "undefined" register on purpose); the warning is about the header, not us.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>

#include "tensor/matmul_microkernel.h"

namespace cpurich::detail {
namespace {
constexpr int kMR = 14;
constexpr int kNR = 32;

// Lanes 0..n-1 set (n clamped to [0, 16]).
__mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// In-register transpose of a 16 x 16 block: r[i] holds row i, afterwards
// r[j] holds column j. Three rounds of shuffles: 32-bit pairs, 64-bit pairs,
// then 128-bit lanes (twice).
void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int g = 0; g < 8; ++g) {  // rows 2g, 2g+1 interleaved
    t[2 * g] = _mm512_unpacklo_ps(r[2 * g], r[2 * g + 1]);
    t[2 * g + 1] = _mm512_unpackhi_ps(r[2 * g], r[2 * g + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // u[4g+j], lane L: column 4L+j of rows 4g..4g+3
    const __m512d lo0 = _mm512_castps_pd(t[4 * g]), hi0 = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d lo1 = _mm512_castps_pd(t[4 * g + 2]), hi1 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  for (int j = 0; j < 4; ++j) {  // 4 x 4 transpose of 128-bit lanes across row groups
    const __m512 x0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44);
    const __m512 x1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);
    const __m512 x2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44);
    const __m512 x3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
    r[j] = _mm512_shuffle_f32x4(x0, x2, 0x88);       // column j
    r[4 + j] = _mm512_shuffle_f32x4(x0, x2, 0xDD);   // column 4 + j
    r[8 + j] = _mm512_shuffle_f32x4(x1, x3, 0x88);   // column 8 + j
    r[12 + j] = _mm512_shuffle_f32x4(x1, x3, 0xDD);  // column 12 + j
  }
}

}  // namespace

void microkernel_avx512_14x32(int64_t kc, const float* a_pack, const float* b_pack,
                              int64_t b_stride, const CTile& tile, float alpha, float beta) {
  __m512 acc[kMR][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) {
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    // Ask for the C tile now, so it is in L1 when we update it after the loop.
    if (i < tile.rows) {
      _mm_prefetch(reinterpret_cast<const char*>(tile.c + i * tile.ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(tile.c + i * tile.ldc + kNR - 1), _MM_HINT_T0);
    }
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b_pack);       // row p of B, columns 0..15
    const __m512 b1 = _mm512_loadu_ps(b_pack + 16);  // columns 16..31
#pragma GCC unroll 14
    for (int i = 0; i < kMR; ++i) {
      const __m512 a = _mm512_set1_ps(a_pack[i]);  // op(A)(i, p) in every lane
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    a_pack += kMR;
    b_pack += b_stride;  // NR when packed, ldb when read in place
  }
  const __m512 valpha = _mm512_set1_ps(alpha);
  const __m512 vbeta = _mm512_set1_ps(beta);
  const __mmask16 m0 = first_lanes(tile.cols), m1 = first_lanes(tile.cols - 16);
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) {  // constant trip count: acc stays in registers
    if (i >= tile.rows) break;
    float* row = tile.c + i * tile.ldc;
    __m512 r0 = _mm512_mul_ps(valpha, acc[i][0]);
    __m512 r1 = _mm512_mul_ps(valpha, acc[i][1]);
    if (beta != 0.0f) {  // beta == 0: never read C
      r0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, row), r0);
      r1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, row + 16), r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

// dst (kc, 14) <- A rows 0..rows-1, columns 0..kc-1, 16 columns at a time:
// load 16 rows (rows >= `rows` are zero), transpose, store each column's
// first 14 lanes as one row of the sliver.
void pack_a_rows_avx512_14(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst) {
  const __mmask16 row_mask = first_lanes(kMR);
  for (int64_t p0 = 0; p0 < kc; p0 += 16) {
    const int64_t width = std::min<int64_t>(16, kc - p0);
    const __mmask16 col_mask = first_lanes(width);
    __m512 r[16];
    for (int i = 0; i < 16; ++i)
      r[i] = i < rows ? _mm512_maskz_loadu_ps(col_mask, a + i * lda + p0) : _mm512_setzero_ps();
    transpose16(r);
    for (int j = 0; j < width; ++j) _mm512_mask_storeu_ps(dst + (p0 + j) * kMR, row_mask, r[j]);
  }
}

// dst (kc, 32) <- op(B) for a transposed B: stored B^T rows j = 0..cols-1
// (row stride ldb), columns p = 0..kc-1, i.e. dst[p*32 + j] = bt[j*ldb + p].
// Two 16 x 16 transposes (j = 0..15 and 16..31) per 16 values of p.
void pack_b_cols_avx512_32(const float* bt, int64_t ldb, int64_t cols, int64_t kc, float* dst) {
  for (int64_t p0 = 0; p0 < kc; p0 += 16) {
    const int64_t width = std::min<int64_t>(16, kc - p0);
    const __mmask16 col_mask = first_lanes(width);
    for (int half = 0; half < 2; ++half) {
      __m512 r[16];
      for (int j = 0; j < 16; ++j) {
        const int64_t jj = half * 16 + j;
        r[j] =
            jj < cols ? _mm512_maskz_loadu_ps(col_mask, bt + jj * ldb + p0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int q = 0; q < width; ++q) _mm512_storeu_ps(dst + (p0 + q) * kNR + half * 16, r[q]);
    }
  }
}

}  // namespace cpurich::detail
#endif
