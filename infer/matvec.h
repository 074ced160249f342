// matvec.h: the kernels that dominate decoding, x @ W for a few rows of x.
//
// What it teaches: when we generate one token at a time (batch 1), every Linear
// layer is a matrix-VECTOR product y (N,) = x (C,) @ W (C,N). There is no data
// reuse to exploit as in a GEMM: each weight is read once per token, so speed is
// decided by how fast we stream W through the core. We walk W row by row
// ("axpy form"):  y[n0:n1] += x[c] * W[c, n0:n1]  for c = 0, 1, ..., C-1,
// which reads W contiguously and vectorises across n with no horizontal sums.
// Each output y[n] is summed over c in increasing order by ONE thread, so the
// result is bitwise the same for any thread count, any SIMD width, and any
// number of rows processed together: prefill (many rows) and decode (one row)
// produce identical numbers, which is what lets a test demand that the KV cache
// changes nothing at all.
//
// Pipeline position: text -> tokens -> tensors -> model -> [decode] -> samples.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/quant_matvec.h"

namespace cpurich {

/// What happens to acc = x @ W + b before it is written to y.
enum class Epilogue {
  Store,       ///< y = acc
  Gelu,        ///< y = kernels::gelu_tanh(acc) (tensor/kernels.h)
  Accumulate,  ///< y += acc (the residual stream: x = x + f(x))
};

/// A Linear layer's weight W (C,N) and bias (N,), repacked for decoding: the
/// columns are cut into panels of kPanel = 64 and each panel's (C, 64) block is
/// stored contiguously (the last panel is zero-padded). A 64-column tile then
/// streams one sequential block of memory instead of C short rows N apart,
/// which is what hardware prefetchers need when W does not fit in cache.
struct PackedLinear {
  static constexpr int64_t kPanel = 64;  ///< columns per panel
  int64_t in = 0;                        ///< C
  int64_t out = 0;                       ///< N
  std::vector<float> panels;             ///< (num_panels, C, kPanel)
  std::vector<float> bias;               ///< (N,), empty when there is none
  /// ceil(N / 64): the unit of work handed to threads.
  int64_t num_panels() const { return (out + kPanel - 1) / kPanel; }
};

/// The reference: y (rows,N) = epilogue(x (rows,C) @ w (C,N) + bias) with the
/// unpacked weights, one plain loop per output (c = 0..C-1, then + bias);
/// linear_panels must match it bit for bit.
void linear_naive(const float* x, int64_t ldx, int64_t rows, int64_t C, const float* w, int64_t N,
                  const float* bias, float* y, int64_t ldy, Epilogue ep);

/// Packs w (C,N) row-major and bias (N,) (may be nullptr).
PackedLinear pack_linear(const float* w, const float* bias, int64_t C, int64_t N);

/// The fast twin of linear_naive (same sums, same order): panels [p0, p1) of
/// y (rows,N) = epilogue(x (rows,C) @ W + bias), reading the packed W in
/// register tiles; x and y have row strides ldx and ldy. Threads call it with
/// disjoint panel ranges; each output is then owned by exactly one call.
void linear_panels(const PackedLinear& layer, const float* x, int64_t ldx, int64_t rows, float* y,
                   int64_t ldy, int64_t p0, int64_t p1, Epilogue ep);

/// A Linear layer kept quantized: W (N, C) = (out, in) as packed blocks
/// (tensor/quant_formats.h, row r = output r) and an f32 bias (N,). Nothing
/// is expanded to f32: tensor/quant_matvec.h computes from the bytes.
struct QuantLinear {
  QuantMatrix w;
  std::vector<float> bias;  ///< (N,), empty when there is none
  int64_t in() const { return w.cols; }
  int64_t out() const { return w.rows; }
};

/// Output columns [n0, n1) of y (T,N) = epilogue(x @ W^T + bias), x given as
/// activations xa (T,C) prepared for layer.w (quantize_activations); y has
/// row stride ldy. For Epilogue::Accumulate the raw products go to tmp (T,N)
/// (stride ldy) first, since y already holds the residual; otherwise tmp is
/// unused. Threads call it with disjoint [n0, n1).
void quant_linear_cols(const QuantLinear& layer, const QuantActivations& xa, float* y, int64_t ldy,
                       float* tmp, int64_t n0, int64_t n1, Epilogue ep);

}  // namespace cpurich
