// gptq.h: GPTQ (Frantar et al., 2022) into ggml's q4_0 / q4_1 blocks.
//
// What it teaches: round-to-nearest (RTN) rounds every weight on its own.
// GPTQ rounds the columns of W (out, in) one after another and, after each,
// moves the rounding error onto the columns not yet rounded, in the
// direction that least changes the layer's outputs on calibration inputs X
// (the OBS update of compress/hessian.h, with H = 2 X^T X / N). The scale of
// each block of 32 is chosen when the block's first column is reached, from
// the weights as updated so far, so the blocks are exactly q4_0 / q4_1 and
// every q4 kernel runs the result unchanged.
//
//   for each column i (in blocks of 128, lazily updated):
//     if i % 32 == 0: scale of block i/32 from W[:, i:i+32]     (ggml's rule)
//     q = round(W[:, i]) ;  e = (W[:, i] - q) / U[i,i]
//     W[:, j] -= e * U[i, j]   for j > i
//
// Act-order processes columns by decreasing H[i,i]; the blocks of 32 stay
// along the original columns, so their scales are then fixed up front from
// the original weights ("static groups").
//
// Pipeline position: calibration -> hessian -> [gptq] -> QuantMatrix.
#pragma once

#include <cstdint>
#include <span>

#include "tensor/quant_formats.h"

namespace cpurich::compress {

struct GptqOptions {
  QuantFormat format = QuantFormat::Q4_0;  ///< Q4_0 or Q4_1
  double damp = 0.01;                      ///< lambda = damp * mean diag(H)
  int64_t block_size = 128;                ///< lazy-batch columns; a multiple of 32
  bool act_order = false;                  ///< columns by decreasing H[i,i] (forces static groups)
  bool static_groups = false;  ///< block scales from the original W, not the updated one
};

/// W (out, in) row-major, H (in, in) -> W quantized (out, in) in
/// options.format. Throws std::invalid_argument on a bad format, shape or
/// block size, std::runtime_error when H cannot be factored.
QuantMatrix gptq_quantize(std::span<const double> w, int64_t out, int64_t in,
                          std::span<const double> h, const GptqOptions& options = {});

}  // namespace cpurich::compress
