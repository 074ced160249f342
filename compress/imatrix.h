// imatrix.h: importance-weighted round-to-nearest (llama.cpp's --imatrix).
//
// What it teaches: the error a rounded weight causes in the output y = W x
// is (w_c - w^_c) x_c, so its expected square is (w_c - w^_c)^2 E[x_c^2].
// Inputs that are large on real text make their weights' errors count more.
// With importance imp_c = mean(x_c^2) from calibration, each block keeps the
// format's layout but picks the scale (and for q4_1 the minimum) that
// minimises
//   E(d) = sum_c imp_c (w_c - d q_c(d))^2,   q_c(d) = round(w_c / d) clamped,
// searching candidates d around ggml's own choice (as llama.cpp's
// make_qx_quants does) with a weighted least-squares refit of d for the codes
// each candidate gives. ggml's plain scale is one of the candidates, so the
// result is never worse than plain rounding on this error.
//
// Pipeline position: calibration -> [imatrix] -> QuantMatrix.
#pragma once

#include <cstdint>
#include <span>

#include "tensor/quant_formats.h"

namespace cpurich::compress {

/// One block x (32,) with importances imp (32,) -> its bytes at y (the
/// format's block size; Q8_0, Q4_0 or Q4_1).
void quantize_block_weighted(QuantFormat format, const float* x, const double* imp, uint8_t* y);

/// W (out, in) row-major f32, importance (in,) -> W quantized (out, in).
/// Throws std::invalid_argument on another format, a bad shape or a
/// negative / non-finite importance.
QuantMatrix imatrix_quantize(QuantFormat format, std::span<const float> w, int64_t out, int64_t in,
                             std::span<const double> importance);

/// sum over the matrix of imp_c (w - w^)^2: the error imatrix minimises.
double weighted_error(const QuantMatrix& q, std::span<const float> w,
                      std::span<const double> importance);

}  // namespace cpurich::compress
