// matmul_nf4.h: GEMMs against a weight held only as NF4 (QLoRA's frozen base).
//
// What it teaches: a 4-bit weight never has to exist as a whole f32 matrix to
// be multiplied. W (out, in) is stored as NF4 blocks along its rows
// (tensor/quant_formats.h); a GEMM needs it in f32 only one panel at a time:
// decode kNF4PanelRows rows of W into a small f32 buffer, hand that panel to
// the ordinary f32 GEMM (tensor/matmul.h), move on to the next rows. The
// buffer is (kNF4PanelRows, in) floats, reused for every panel; peak extra
// memory is that buffer, not out * in floats.
//
// The two products a frozen Linear needs (x (N, in) are the N tokens):
//   forward         y (N, out)  = beta y  + x (N, in) @ W^T (in, out)
//   input gradient  dx (N, in)  = beta dx + dy (N, out) @ W (out, in)
// The weight gradient dW = x^T dy is never computed: the base is frozen.
//
// Each function has a naive reference first (decode all of W, plain loops),
// then the tiled twin the autograd op uses.
//
// Pipeline position: QLoRA fine-tuning (autograd ag::linear_nf4_lora).
#pragma once

#include <cstdint>

#include "tensor/quant_formats.h"

namespace cpurich {

/// Rows of W decoded per panel: 128 rows of W are 128 output columns of the
/// forward GEMM (a multiple of every microkernel's NR) and 128 of the
/// input-gradient GEMM's K (a whole number of K blocks for its packing).
inline constexpr int64_t kNF4PanelRows = 128;

/// Reference: y (n, out) = beta * y + x (n, in) @ dequant(q)^T, q (out, in) NF4.
/// Decodes all of W into a temporary, then the triple loop in f64 accumulation.
void nf4_matmul_xwt_naive(const QuantMatrix& q, const float* x, int64_t n, float beta, float* y);
/// Tiled twin: panels of kNF4PanelRows rows of W decoded into one reused
/// buffer, each panel multiplied by the packed f32 GEMM into y's columns
/// [r0, r1). Every y element's K-sum runs inside one GEMM call, so the result
/// does not depend on the thread count.
void nf4_matmul_xwt(const QuantMatrix& q, const float* x, int64_t n, float beta, float* y);

/// Reference: dx (n, in) = beta * dx + dy (n, out) @ dequant(q), q (out, in) NF4.
void nf4_matmul_dyw_naive(const QuantMatrix& q, const float* dy, int64_t n, float beta, float* dx);
/// Tiled twin: the same panels of W; panel p adds dy[:, r0:r1] @ W[r0:r1, :]
/// into dx (beta for the first panel, then 1), panels in order, so dx's
/// K-sum is split at fixed panel boundaries whatever the thread count.
void nf4_matmul_dyw(const QuantMatrix& q, const float* dy, int64_t n, float beta, float* dx);

}  // namespace cpurich
