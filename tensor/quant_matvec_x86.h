// quant_matvec_x86.h: x86 building blocks of quant_matvec.h's kernels, and
// the 256-bit integer-format kernel (included only by quant_matvec_avx2.cpp
// and quant_matvec_avx512vnni.cpp, each compiled with its own ISA flags).
//
// What it teaches: the per-block recipe of quant_matvec.h in 256-bit
// registers. One block of 32 weights is one register of 32 int8; the ISA
// supplies the dot product of two such registers into 8 int32 lanes (lane l
// = elements 4l..4l+3):
//   AVX2       maddubs (u8 x s8 pairs -> int16) then madd with ones (-> int32)
//   AVX-512    vpdpbusd does both in one instruction (VNNI; its file uses the
//              512-bit form, two blocks at once, with the helpers here)
// Both take an unsigned first operand, so signed weights go in as |w| and the
// activations get w's sign (x * sign(w)): |w| * (x sign(w)) = w x.
// Every function is static or a template on the ISA tag (a type local to the
// including file), so the two compilations never meet at link time.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "tensor/quant_matvec.h"

namespace cpurich::detail {

// Folds 8 lanes 4-2-1 (quant_matvec.h): s[l] += s[l+4], s[l] += s[l+2], s[0] + s[1].
static inline float fold8_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

static inline float f16_at(const uint8_t* p) {
  uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// 16 bytes of nibbles -> 32 bytes 0..15: low nibbles (elements 0..15) then
// high nibbles (elements 16..31), ggml's q4 order.
static inline __m256i unpack_nibbles(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

static inline void prefetch_ahead(const uint8_t* p) {
  // A hint two kilobytes down the row stream (never a load, cannot fault).
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + 2048));
}

// y[t0 + i, r] for i < NT: row r of an integer-format W against NT prepared
// activation rows; each decoded weight block is used for all NT rows.
template <class Isa, QuantFormat F, int NT>
static inline void int_row(const QuantMatrix& w, const QuantActivations& a, int64_t r, int64_t t0,
                           float* y, int64_t ldy) {
  const int64_t C = w.cols, nb = C / kQBlock;
  const uint8_t* row = w.row(r);
  __m256 acc[NT][2];  // [row][block parity]
  float sm[NT][2];    // q4_1's offset terms, even and odd blocks
  for (int i = 0; i < NT; ++i) {
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    sm[i][0] = sm[i][1] = 0.0f;
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq;
    float d = 1.0f, m = 0.0f;
    if constexpr (F == QuantFormat::Int8) {
      wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 4 + b * kQBlock));
    } else if constexpr (F == QuantFormat::Q8_0) {
      const uint8_t* p = row + b * 34;
      prefetch_ahead(p);
      d = f16_at(p);
      wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
    } else if constexpr (F == QuantFormat::Q4_0) {
      const uint8_t* p = row + b * 18;
      prefetch_ahead(p);
      d = f16_at(p);
      wq = _mm256_sub_epi8(unpack_nibbles(p + 2), _mm256_set1_epi8(8));
    } else {  // Q4_1: q in 0..15 goes in unsigned as it is
      const uint8_t* p = row + b * 20;
      prefetch_ahead(p);
      d = f16_at(p);
      m = f16_at(p + 2);
      wq = unpack_nibbles(p + 4);
    }
    __m256i wabs = wq;
    if constexpr (F != QuantFormat::Q4_1) wabs = _mm256_abs_epi8(wq);
    for (int i = 0; i < NT; ++i) {
      const int64_t t = t0 + i;
      __m256i xq =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q.data() + t * C + b * kQBlock));
      if constexpr (F != QuantFormat::Q4_1) xq = _mm256_sign_epi8(xq, wq);
      const __m256i lanes = Isa::dot_u8s8(wabs, xq);
      const float s = d * a.d[static_cast<size_t>(t * nb + b)];
      acc[i][b % 2] = _mm256_fmadd_ps(_mm256_set1_ps(s), _mm256_cvtepi32_ps(lanes), acc[i][b % 2]);
      if constexpr (F == QuantFormat::Q4_1)
        sm[i][b % 2] += m * a.s[static_cast<size_t>(t * nb + b)];
    }
  }
  float dw = 1.0f;
  if constexpr (F == QuantFormat::Int8) std::memcpy(&dw, row, 4);
  for (int i = 0; i < NT; ++i) {
    float v = fold8_ps(_mm256_add_ps(acc[i][0], acc[i][1]));
    if constexpr (F == QuantFormat::Q4_1) v += sm[i][0] + sm[i][1];
    if constexpr (F == QuantFormat::Int8) v *= dw;
    y[(t0 + i) * ldy + r] = v;
  }
}

template <class Isa, QuantFormat F>
static inline void int_rows(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                            int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    int64_t t = 0;
    for (; t + 4 <= a.rows; t += 4) int_row<Isa, F, 4>(w, a, r, t, y, ldy);
    switch (a.rows - t) {
      case 3:
        int_row<Isa, F, 3>(w, a, r, t, y, ldy);
        break;
      case 2:
        int_row<Isa, F, 2>(w, a, r, t, y, ldy);
        break;
      case 1:
        int_row<Isa, F, 1>(w, a, r, t, y, ldy);
        break;
      default:
        break;
    }
  }
}

// The integer formats of quant_matmul_rows (nf4 is the including file's).
template <class Isa>
static inline void int_format_rows(const QuantMatrix& w, const QuantActivations& a, float* y,
                                   int64_t ldy, int64_t r0, int64_t r1) {
  switch (w.format) {
    case QuantFormat::Int8:
      return int_rows<Isa, QuantFormat::Int8>(w, a, y, ldy, r0, r1);
    case QuantFormat::Q8_0:
      return int_rows<Isa, QuantFormat::Q8_0>(w, a, y, ldy, r0, r1);
    case QuantFormat::Q4_0:
      return int_rows<Isa, QuantFormat::Q4_0>(w, a, y, ldy, r0, r1);
    case QuantFormat::Q4_1:
      return int_rows<Isa, QuantFormat::Q4_1>(w, a, y, ldy, r0, r1);
    case QuantFormat::NF4:
      return;
  }
}

// Runs Row<NT>::run(r, t0) over rows [r0, r1), activation rows in tiles of 4.
template <template <int> class Row, class... Args>
static inline void for_tiles(int64_t r0, int64_t r1, int64_t T, const Args&... args) {
  for (int64_t r = r0; r < r1; ++r) {
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) Row<4>::run(r, t, args...);
    if (T - t == 3) Row<3>::run(r, t, args...);
    if (T - t == 2) Row<2>::run(r, t, args...);
    if (T - t == 1) Row<1>::run(r, t, args...);
  }
}

}  // namespace cpurich::detail
#endif
