// quant_matvec.h: y = x @ W^T straight from quantized weights (tensor/quant_formats.h),
// for decode (one row of x) and prefill (T rows), never expanding W to f32.
//
// What it teaches: once weights are 4 or 8 bits, a decode step is still
// memory-bound, but now on 4-8x fewer bytes, so the arithmetic that turns
// the bytes back into numbers must be cheap enough to keep up. Two tricks:
//   * integer formats (int8, q8_0, q4_0, q4_1): the activation row is itself
//     quantized, to blocks of 32 int8 with one f32 scale (q8_0-style,
//     d_x = max|x| / 127). A block's dot product is then an exact integer,
//         sum_c w_c x_c ~ d_w d_x * sum_c q_c qx_c      (q4_1: + m_w * d_x sum_c qx_c)
//     which one AVX-512 VNNI instruction (vpdpbusd: 32 u8 x s8 products into
//     8 int32 lanes) or AVX2's maddubs + madd computes. Only the rounding of
//     the activations to int8 adds error: |x_c - d_x qx_c| <= d_x / 2.
//   * nf4: the 16 NormalFloat levels fit one AVX-512 register, so a nibble
//     becomes its level with one permute (permutexvar) and is multiplied with
//     the f32 activation by FMA: no activation rounding at all.
//
// Determinism: every output y[t, r] is computed by one call, summed in a fixed
// order that does not depend on T, on the row range or on the thread: per
// block b, 8 int32 lanes (lane l holds the products of elements 4l..4l+3),
// then acc[b % 2][l] = fma(d_w * d_x, float(lane[l]), acc[b % 2][l]) over
// blocks in order (two accumulators: even and odd blocks, which is what one
// 512-bit register holding two blocks computes), then lanes
// acc[0][l] + acc[1][l] folded 4-2-1; q4_1 adds its offset terms m_w s_x
// the same way, in two scalar sums (even, odd blocks) added last (nf4: 16
// float lanes, block sums, folded 8-4-2-1).
// All three paths (AVX-512 VNNI, AVX2, portable) follow this exact recipe, so
// they agree bit for bit, and decode (T = 1) equals any row of a prefill.
//
// Pipeline position: quantized model -> [quant_matvec] -> decoder logits.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/quant_formats.h"

namespace cpurich {

/// Which implementation of the fast kernels runs.
enum class QuantPath { Portable, Avx2, Avx512Vnni };

/// The best path this CPU supports (avx512 f/bw/vl + vnni, else avx2 + fma +
/// f16c, else portable).
QuantPath quant_best_path();
/// Whether this CPU can run `path`.
bool quant_path_supported(QuantPath path);
const char* quant_path_name(QuantPath path);

/// Activations x (T, cols) prepared for one weight format:
///   integer formats: per row, cols/32 blocks q (int8 x 32), d (f32) and
///   s = d * sum(q) (what q4_1's offset term needs, as ggml's q8_1);
///   nf4: x itself, each group of 32 reordered to its 16 even then 16 odd
///   elements (an nf4 byte holds elements 2j and 2j+1).
/// Buffers only grow, so reusing one object allocates nothing in steady state.
struct QuantActivations {
  QuantFormat format = QuantFormat::Q8_0;
  int64_t rows = 0;       ///< T
  int64_t cols = 0;       ///< C
  std::vector<int8_t> q;  ///< (T, C) integer formats
  std::vector<float> d;   ///< (T, C/32)
  std::vector<float> s;   ///< (T, C/32)
  std::vector<float> xp;  ///< (T, C) nf4 (and int8 with C % 32 != 0: x as is)
};

/// x (T, cols) with row stride ldx -> a, ready for matrices of `format`.
/// Rows [t0, t1) only (threads may split the rows; a must be sized first by
/// quant_activations_resize).
void quant_activations_resize(QuantFormat format, int64_t T, int64_t cols, QuantActivations& a);
void quantize_activations(const float* x, int64_t ldx, int64_t t0, int64_t t1, QuantActivations& a);

/// The reference: y (T, rows) = x (T, cols) @ W^T, W (rows, cols): each row
/// of W dequantized (dequantize_matrix_row), then a plain f32 dot, c = 0..cols-1.
void quant_matmul_naive(const QuantMatrix& w, const float* x, int64_t ldx, int64_t T, float* y,
                        int64_t ldy);

/// The fast twin: rows [r0, r1) of y (T, rows) = x @ W^T from the packed
/// bytes, x given as prepared activations a (T, cols). Threads call it with
/// disjoint row ranges. For T > 1 each decoded weight block is used for up
/// to 4 activation rows before the next block is read.
void quant_matmul_rows(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                       int64_t r0, int64_t r1, QuantPath path = quant_best_path());

namespace detail {
/// Where an nf4 matrix keeps its absmax codes: absmax(b) =
/// offset + scales[b / 256] * int8(codes[b]) (QuantMatrix::nf4_absmax, without the call).
struct NF4Scales {
  const uint8_t* codes;
  const uint8_t* scales;  ///< f32 each, possibly unaligned (read with memcpy)
  float offset;
  __attribute__((always_inline)) float absmax(int64_t b) const {
    float scale = 0.0f;
    __builtin_memcpy(&scale, scales + 4 * (b / kNF4AbsmaxGroup), 4);
    return offset + scale * static_cast<float>(static_cast<int8_t>(codes[b]));
  }
};
NF4Scales nf4_scales(const QuantMatrix& w);
// The per-ISA kernels (quant_matvec_avx2.cpp, quant_matvec_avx512vnni.cpp), same
// contract as quant_matmul_rows; only called when the CPU supports them.
void quant_rows_avx2(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                     int64_t r0, int64_t r1);
void quant_rows_avx512(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                       int64_t r0, int64_t r1);
}  // namespace detail

}  // namespace cpurich
