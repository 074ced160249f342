// loftq.h: LoftQ, an adapter initialisation that cancels quantization error
// (Li et al. 2023, "LoftQ: LoRA-Fine-Tuning-Aware Quantization").
//
// What it teaches: QLoRA freezes Q = nf4(W) instead of W, so at step 0 the
// model is already off by the quantization error E = W - dequant(Q), and the
// adapter (B = 0) does nothing about it. But the adapter is a rank-r matrix
// s B A added to the base, and the best rank-r approximation of E is its
// truncated SVD. LoftQ alternates the two fits for N iterations:
//
//   R = W
//   repeat N times:
//     Q      = nf4(R)                           quantize what the adapter does not cover
//     s B A  = svd_r(W - dequant(Q))            the adapter covers the rest
//     R      = W - s B A
//
// and starts fine-tuning from (Q, A, B). Split symmetrically:
//   svd_r(E) = U S V^T,  B = U sqrt(S) / sqrt(s) (out, r),  A = sqrt(S) V^T / sqrt(s) (r, in).
// After the first iteration ||W - dequant(Q) - s B A|| <= ||W - dequant(Q)||
// (the SVD's residual is never larger than the matrix itself).
//
// The truncated SVD is a randomized range finder (Halko, Martinsson & Tropp
// 2011) in f64: Y = M Omega with a Gaussian Omega (n, r + 8), a few power
// iterations Y = M (M^T Y) with re-orthonormalisation (they sharpen the
// decay of the spectrum), Q = orth(Y); the small matrix Q^T M (k, n) is
// then diagonalised through its Gram matrix with cyclic Jacobi rotations.
// Everything is serial and seeded: the result is the same on any thread count.
//
// Pipeline position: pretrained W -> [LoftQ] -> QLoRA's frozen NF4 base + adapter init.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tensor/quant_formats.h"

namespace cpurich {

/// M ~ U diag(s) Vt with the `rank` largest singular values, descending.
struct TruncatedSvd {
  int64_t rank = 0;
  std::vector<double> u;   ///< (m, rank), orthonormal columns
  std::vector<double> s;   ///< (rank)
  std::vector<double> vt;  ///< (rank, n), orthonormal rows
};

/// m (rows, cols) row-major -> its rank-`rank` truncated SVD (rank <= min(rows, cols)).
/// Randomized range finder with `power_iters` power iterations, seeded.
TruncatedSvd truncated_svd(std::span<const double> m, int64_t rows, int64_t cols, int64_t rank,
                           uint64_t seed, int power_iters = 4);

/// A frozen NF4 base and the adapter that starts next to it.
struct LoftqInit {
  QuantMatrix q;         ///< NF4 of W's residual (out, in)
  std::vector<float> a;  ///< lora_A (r, in)
  std::vector<float> b;  ///< lora_B (out, r)
};

/// w (out, in) row-major -> LoftQ's (Q, A, B) after `iters` >= 1 alternations,
/// for an adapter of this rank applied with this scale.
LoftqInit loftq_init(std::span<const float> w, int64_t out, int64_t in, int64_t rank, double scale,
                     int64_t iters, uint64_t seed);

/// ||W - (dequant(Q) + scale * B A)||_F for w (out, in), A (r, in), B (out, r)
/// (B may be all zero: plain QLoRA's init error is then the quantization error).
double qlora_init_error(std::span<const float> w, const QuantMatrix& q, std::span<const float> a,
                        std::span<const float> b, int64_t rank, double scale);

}  // namespace cpurich
