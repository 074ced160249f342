// quant_matvec_avx2.cpp: the AVX2 path of quant_matmul_rows.
//
// What it teaches: without VNNI, a block's integer dot product takes two
// instructions: vpmaddubsw (32 u8 x s8 products, adjacent pairs summed into
// 16 int16; |w| <= 127 and |x| <= 127 keep a pair below 2^15, no saturation)
// and vpmaddwd with ones (adjacent int16 pairs into 8 int32 lanes), the same
// lanes vpdpbusd produces. nf4: a ymm holds only 8 of the 16 levels, so a
// nibble is looked up in both halves (vpermps) and bit 3 picks one (blendv);
// the 16 float lanes of quant_matvec.h are two ymm registers. Results equal
// the portable and AVX-512 paths bit for bit.
// This file is compiled with -mavx2 -mfma -mf16c and only called after
// quant_path_supported(Avx2). Off x86-64 it compiles to nothing.
#if defined(__x86_64__)
#include "tensor/quant_matvec_x86.h"

namespace cpurich::detail {
namespace {

struct Avx2 {
  // 8 int32 lanes: lane l = sum_{k<4} u[4l+k] * s[4l+k] (u unsigned, s signed).
  static __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
  }
};

// 8 nibble indices (int32) -> their NF4 levels.
inline __m256 nf4_levels(__m256i idx, __m256 low8, __m256 high8) {
  const __m256 l = _mm256_permutevar8x32_ps(low8, idx);
  const __m256 h = _mm256_permutevar8x32_ps(high8, idx);
  return _mm256_blendv_ps(l, h, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

// nf4 rows, as NF4Row in quant_matvec_avx512vnni.cpp with each 16-lane register
// split into lanes 0..7 ([0]) and 8..15 ([1]).
template <int NT>
struct NF4Row {
  static void run(int64_t r, int64_t t0, const QuantMatrix& w, const NF4Scales& sc,
                  const QuantActivations& a, float* y, int64_t ldy) {
    const int64_t C = w.cols, nb = C / kNF4Block;
    const uint8_t* row = w.row(r);
    const __m256 low8 = _mm256_loadu_ps(kNF4Levels.data());
    const __m256 high8 = _mm256_loadu_ps(kNF4Levels.data() + 8);
    const __m256i low4 = _mm256_set1_epi32(0x0f);
    __m256 acc[NT][2];
    for (int i = 0; i < NT; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* p = row + b * 32;
      prefetch_ahead(p);
      const __m256 amax = _mm256_set1_ps(sc.absmax(r * nb + b));
      __m256 hi[2][2], lo[2][2];  // [group][half]
      for (int g = 0; g < 2; ++g)
        for (int h = 0; h < 2; ++h) {
          const __m256i idx = _mm256_cvtepu8_epi32(
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16 * g + 8 * h)));
          hi[g][h] = nf4_levels(_mm256_srli_epi32(idx, 4), low8, high8);
          lo[g][h] = nf4_levels(_mm256_and_si256(idx, low4), low8, high8);
        }
      for (int i = 0; i < NT; ++i) {
        const float* xp = a.xp.data() + (t0 + i) * C + b * kNF4Block;
        for (int h = 0; h < 2; ++h) {
          __m256 bacc = _mm256_mul_ps(hi[0][h], _mm256_loadu_ps(xp + 8 * h));
          bacc = _mm256_fmadd_ps(lo[0][h], _mm256_loadu_ps(xp + 16 + 8 * h), bacc);
          bacc = _mm256_fmadd_ps(hi[1][h], _mm256_loadu_ps(xp + 32 + 8 * h), bacc);
          bacc = _mm256_fmadd_ps(lo[1][h], _mm256_loadu_ps(xp + 48 + 8 * h), bacc);
          acc[i][h] = _mm256_fmadd_ps(bacc, amax, acc[i][h]);
        }
      }
    }
    for (int i = 0; i < NT; ++i)
      y[(t0 + i) * ldy + r] = fold8_ps(_mm256_add_ps(acc[i][0], acc[i][1]));
  }
};

}  // namespace

void quant_rows_avx2(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                     int64_t r0, int64_t r1) {
  if (w.format == QuantFormat::NF4)
    return for_tiles<NF4Row>(r0, r1, a.rows, w, nf4_scales(w), a, y, ldy);
  int_format_rows<Avx2>(w, a, y, ldy, r0, r1);
}

}  // namespace cpurich::detail
#endif
