// matmul_skinny.cpp: the M == 1 / N == 1 path (vector times matrix).
//
// What it teaches: when one side of the product is a single vector (decoding
// one token: x (1,C) @ W (C,OC)), each element of W is used exactly once, so
// the speed limit is memory bandwidth, not FMAs. Packing W first would read it
// twice; instead we stream W once in the order it is stored:
//   W row-major:  y(:) += x(p) * W(p, :)      for p = 0..K-1   (axpy of rows)
//   W transposed: y(j)  = dot(x, W^T row j)                     (dot products)
// Both loops are kernels::vecmat / vecmat_t (tensor/kernels.h); this file
// cuts the columns into blocks for threads and applies alpha and beta. Each
// output is summed by one thread in a fixed order, so the result never
// depends on the thread count.
//
// Pipeline position: tensors -> [matmul] -> Linear layers when decoding.
#include <algorithm>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/matmul_internal.h"
#include "tensor/matmul_packed.h"
#include "tensor/parallel.h"

namespace cpurich::detail {
namespace {

constexpr int64_t kColBlock = 512;  // columns per task in the axpy form

// y(j*incy) = alpha * sum_p x(p) * W(p,j) + beta * y(j*incy), j < n;
// W(p,j) = trans ? w[j*ldw + p] : w[p*ldw + j].   x is (k), contiguous.
void vec_mat(int64_t k, int64_t n, float alpha, const float* x, const float* w, int64_t ldw,
             bool trans, float beta, float* y, int64_t incy, int threads) {
  const int64_t blocks = (n + kColBlock - 1) / kColBlock;
  // A thread team only pays off once W no longer fits in a core's cache.
  const bool parallel = threads > 1 && k * n >= (1 << 18) && blocks > 1;
  parallel_for_if(parallel, 0, blocks, [&](int64_t blk) {
    const int64_t j0 = blk * kColBlock, nb = std::min(kColBlock, n - j0);
    float acc[kColBlock];  // acc is (nb): the block's sums
    if (trans)
      kernels::vecmat_t(x, w + j0 * ldw, ldw, k, nb, acc);
    else
      kernels::vecmat(x, w + j0, ldw, k, nb, acc);
    for (int64_t j = 0; j < nb; ++j) {
      float& out = y[(j0 + j) * incy];
      out = beta == 0.0f ? alpha * acc[j] : alpha * acc[j] + beta * out;
    }
  });
}

}  // namespace

void skinny_gemm(const GemmArgs& g, int threads) {
  std::vector<float> x(static_cast<size_t>(g.k));  // the vector operand, made contiguous
  if (g.m == 1) {
    // C (1,N) = op(A) (1,K) @ op(B) (K,N): W = op(B).
    for (int64_t p = 0; p < g.k; ++p) x[p] = op_a(g, 0, p);
    vec_mat(g.k, g.n, g.alpha, x.data(), g.b, g.ldb, g.trans_b, g.beta, g.c, 1, threads);
  } else {
    // C (M,1) = op(A) (M,K) @ op(B) (K,1), i.e. C^T = op(B)^T @ op(A)^T:
    // W(p,i) = op(A)(i,p), stored transposed exactly when A is not.
    for (int64_t p = 0; p < g.k; ++p) x[p] = op_b(g, p, 0);
    vec_mat(g.k, g.m, g.alpha, x.data(), g.a, g.lda, !g.trans_a, g.beta, g.c, g.ldc, threads);
  }
}

}  // namespace cpurich::detail
