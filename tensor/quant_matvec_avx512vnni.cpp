// quant_matvec_avx512vnni.cpp: the AVX-512 VNNI path of quant_matmul_rows.
//
// What it teaches: the integer formats use vpdpbusd in its 256-bit form (one
// block of 32 int8 per instruction, quant_matvec_x86.h); nf4 uses a whole
// 512-bit register as the table of 16 NormalFloat levels: 16 nibbles widened
// to int32 index it with one vpermps (_mm512_permutexvar_ps), and the levels
// meet the f32 activations in an FMA. The lanes and their order are the ones
// quant_matvec.h fixes, so the result equals the portable path bit for bit.
// This file is compiled with -mavx512f/bw/dq/vl/vnni and only called after
// quant_path_supported(Avx512Vnni). Off x86-64 it compiles to nothing.
#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "tensor/quant_matvec_x86.h"

namespace cpurich::detail {
namespace {

struct Vnni {
  // 8 int32 lanes: lane l = sum_{k<4} u[4l+k] * s[4l+k] (u unsigned, s signed).
  static __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
  }
};

// Folds 16 lanes 8-4-2-1.
float fold16_ps(__m512 v) {
  return fold8_ps(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

// y[t0 + i, r] for i < NT, nf4: per block of 64 (32 bytes), two groups of
// 16 bytes; lane i of group g takes elements 32g + 2i (high nibble) and
// 32g + 2i + 1 (low nibble), against the activations reordered to match.
template <int NT>
struct NF4Row {
  static void run(int64_t r, int64_t t0, const QuantMatrix& w, const NF4Scales& sc,
                  const QuantActivations& a, float* y, int64_t ldy) {
    const int64_t C = w.cols, nb = C / kNF4Block;
    const uint8_t* row = w.row(r);
    const __m512 table = _mm512_loadu_ps(kNF4Levels.data());
    const __m512i low4 = _mm512_set1_epi32(0x0f);
    __m512 acc[NT];
    for (int i = 0; i < NT; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* p = row + b * 32;
      prefetch_ahead(p);
      const __m512 amax = _mm512_set1_ps(sc.absmax(r * nb + b));
      __m512 hi[2], lo[2];
      for (int g = 0; g < 2; ++g) {
        const __m512i idx =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * g)));
        hi[g] = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), table);
        lo[g] = _mm512_permutexvar_ps(_mm512_and_si512(idx, low4), table);
      }
      for (int i = 0; i < NT; ++i) {
        const float* xp = a.xp.data() + (t0 + i) * C + b * kNF4Block;
        __m512 bacc = _mm512_mul_ps(hi[0], _mm512_loadu_ps(xp));
        bacc = _mm512_fmadd_ps(lo[0], _mm512_loadu_ps(xp + 16), bacc);
        bacc = _mm512_fmadd_ps(hi[1], _mm512_loadu_ps(xp + 32), bacc);
        bacc = _mm512_fmadd_ps(lo[1], _mm512_loadu_ps(xp + 48), bacc);
        acc[i] = _mm512_fmadd_ps(bacc, amax, acc[i]);
      }
    }
    for (int i = 0; i < NT; ++i) y[(t0 + i) * ldy + r] = fold16_ps(acc[i]);
  }
};

}  // namespace

void quant_rows_avx512(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                       int64_t r0, int64_t r1) {
  if (w.format == QuantFormat::NF4)
    return for_tiles<NF4Row>(r0, r1, a.rows, w, nf4_scales(w), a, y, ldy);
  int_format_rows<Vnni>(w, a, y, ldy, r0, r1);
}

}  // namespace cpurich::detail
#endif
