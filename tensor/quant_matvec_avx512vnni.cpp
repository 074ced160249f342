// quant_matvec_avx512vnni.cpp: the AVX-512 VNNI path of quant_matmul_rows.
//
// What it teaches: the integer formats use vpdpbusd in its 512-bit form: two
// blocks of 32 int8 per instruction (block b in the low 8 lanes, b+1 in the
// high 8, which is why quant_matvec.h keeps even and odd blocks in separate
// accumulators), their two scales in one register; nf4 uses a whole
// 512-bit register as the table of 16 NormalFloat levels: 16 nibbles widened
// to int32 index it with one vpermps (_mm512_permutexvar_ps), and the levels
// meet the f32 activations in an FMA. The lanes and their order are the ones
// quant_matvec.h fixes, so the result equals the portable path bit for bit.
// This file is compiled with -mavx512f/bw/dq/vl/vnni and only called after
// quant_path_supported(Avx512Vnni). Off x86-64 it compiles to nothing.
#if defined(__x86_64__)
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "tensor/quant_matvec_x86.h"

namespace cpurich::detail {
namespace {

// The weights of blocks b and b+1 of a row as one register of 64 int8 (block
// b in the low half), signed (Q4_1: its unsigned nibbles), and their scales.
template <QuantFormat F>
inline __m512i load_pair(const uint8_t* row, int64_t b, float* d, float* m) {
  auto join = [](__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  };
  if constexpr (F == QuantFormat::Int8) {
    d[0] = d[1] = 1.0f;
    return _mm512_loadu_si512(row + 4 + b * kQBlock);
  } else if constexpr (F == QuantFormat::Q8_0) {
    const uint8_t* p = row + b * 34;
    prefetch_ahead(p);
    d[0] = f16_at(p);
    d[1] = f16_at(p + 34);
    return join(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 36)));
  } else if constexpr (F == QuantFormat::Q4_0) {
    const uint8_t* p = row + b * 18;
    prefetch_ahead(p);
    d[0] = f16_at(p);
    d[1] = f16_at(p + 18);
    return _mm512_sub_epi8(join(unpack_nibbles(p + 2), unpack_nibbles(p + 20)),
                           _mm512_set1_epi8(8));
  } else {
    const uint8_t* p = row + b * 20;
    prefetch_ahead(p);
    d[0] = f16_at(p);
    m[0] = f16_at(p + 2);
    d[1] = f16_at(p + 20);
    m[1] = f16_at(p + 22);
    return join(unpack_nibbles(p + 4), unpack_nibbles(p + 24));
  }
}

// y[t0 + i, r] for i < NT, integer formats, two blocks per vpdpbusd: the low
// 8 lanes of acc accumulate the even blocks, the high 8 the odd ones (the
// order quant_matvec.h fixes). An odd last block goes through the low half
// alone (a masked FMA leaves the high lanes as they are).
template <QuantFormat F, int NT>
struct IntRow512 {
  static void run(int64_t r, int64_t t0, const QuantMatrix& w, const QuantActivations& a, float* y,
                  int64_t ldy) {
    const int64_t C = w.cols, nb = C / kQBlock;
    const uint8_t* row = w.row(r);
    __m512 acc[NT];
    float sm[NT][2];  // q4_1's offset terms, even and odd blocks
    for (int i = 0; i < NT; ++i) {
      acc[i] = _mm512_setzero_ps();
      sm[i][0] = sm[i][1] = 0.0f;
    }
    for (int64_t b = 0; b < nb; b += 2) {
      const bool pair = b + 1 < nb;
      float d[2] = {1.0f, 1.0f}, m[2] = {0.0f, 0.0f};
      __m512i wq;
      if (pair) {
        wq = load_pair<F>(row, b, d, m);
      } else {  // the last, even block: the low half only, zeros above
        __m256i one;
        if constexpr (F == QuantFormat::Int8) {
          one = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 4 + b * kQBlock));
        } else if constexpr (F == QuantFormat::Q8_0) {
          d[0] = f16_at(row + b * 34);
          one = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 34 + 2));
        } else if constexpr (F == QuantFormat::Q4_0) {
          d[0] = f16_at(row + b * 18);
          one = _mm256_sub_epi8(unpack_nibbles(row + b * 18 + 2), _mm256_set1_epi8(8));
        } else {
          d[0] = f16_at(row + b * 20);
          m[0] = f16_at(row + b * 20 + 2);
          one = unpack_nibbles(row + b * 20 + 4);
        }
        wq = _mm512_zextsi256_si512(one);
      }
      __m512i wabs = wq;
      if constexpr (F != QuantFormat::Q4_1) wabs = _mm512_abs_epi8(wq);
      const __mmask16 lanes_used = pair ? __mmask16(0xFFFF) : __mmask16(0x00FF);
      for (int i = 0; i < NT; ++i) {
        const int64_t t = t0 + i;
        const int8_t* xb = a.q.data() + t * C + b * kQBlock;
        __m512i xq =
            pair ? _mm512_loadu_si512(xb)
                 : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb)));
        if constexpr (F != QuantFormat::Q4_1) {  // x * sign(w), as vpsignb does
          const __mmask64 neg = _mm512_movepi8_mask(wq);
          const __mmask64 zero = _mm512_testn_epi8_mask(wq, wq);
          xq = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
          xq = _mm512_mask_mov_epi8(xq, zero, _mm512_setzero_si512());
        }
        const __m512i lanes = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wabs, xq);
        const float* dx = a.d.data() + t * nb + b;
        const float s0 = d[0] * dx[0];
        const float s1 = pair ? d[1] * dx[1] : 0.0f;
        const __m512 sv =
            _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(s0)), _mm256_set1_ps(s1), 1);
        acc[i] = _mm512_mask3_fmadd_ps(sv, _mm512_cvtepi32_ps(lanes), acc[i], lanes_used);
        if constexpr (F == QuantFormat::Q4_1) {
          const float* sx = a.s.data() + t * nb + b;
          sm[i][0] += m[0] * sx[0];
          if (pair) sm[i][1] += m[1] * sx[1];
        }
      }
    }
    float dw = 1.0f;
    if constexpr (F == QuantFormat::Int8) std::memcpy(&dw, row, 4);
    for (int i = 0; i < NT; ++i) {
      float v = fold8_ps(
          _mm256_add_ps(_mm512_castps512_ps256(acc[i]), _mm512_extractf32x8_ps(acc[i], 1)));
      if constexpr (F == QuantFormat::Q4_1) v += sm[i][0] + sm[i][1];
      if constexpr (F == QuantFormat::Int8) v *= dw;
      y[(t0 + i) * ldy + r] = v;
    }
  }
};
template <int NT>
using Int8Row = IntRow512<QuantFormat::Int8, NT>;
template <int NT>
using Q8Row = IntRow512<QuantFormat::Q8_0, NT>;
template <int NT>
using Q40Row = IntRow512<QuantFormat::Q4_0, NT>;
template <int NT>
using Q41Row = IntRow512<QuantFormat::Q4_1, NT>;

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
  switch (w.format) {
    case QuantFormat::Int8:
      return for_tiles<Int8Row>(r0, r1, a.rows, w, a, y, ldy);
    case QuantFormat::Q8_0:
      return for_tiles<Q8Row>(r0, r1, a.rows, w, a, y, ldy);
    case QuantFormat::Q4_0:
      return for_tiles<Q40Row>(r0, r1, a.rows, w, a, y, ldy);
    case QuantFormat::Q4_1:
      return for_tiles<Q41Row>(r0, r1, a.rows, w, a, y, ldy);
    case QuantFormat::NF4:
      return;
  }
}

}  // namespace cpurich::detail
#endif
