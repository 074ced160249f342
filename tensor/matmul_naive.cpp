// matmul_naive.cpp: step a of the staircase, the i-j-k triple loop.
//
// What it teaches: C(i,j) = alpha * sum_p op(A)(i,p) * op(B)(p,j) + beta * C(i,j),
// written exactly as the formula reads. It is the reference that every faster
// kernel is tested against, and the slowest: the inner loop walks op(B) down a
// column (stride ldb floats), so almost every load of B misses the cache once
// the matrix is bigger than L1/L2. This file also holds the argument checks and
// the beta-scaling helper every step shares (matmul_internal.h).
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include <stdexcept>
#include <string>

#include "tensor/matmul_internal.h"

namespace cpurich {
namespace detail {

void check_gemm_args(const GemmArgs& g, const char* who) {
  const std::string name(who);
  if (g.m < 0 || g.n < 0 || g.k < 0)
    throw std::invalid_argument(name + ": negative size m=" + std::to_string(g.m) +
                                " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k));
  // A is stored (M,K) row-major, or (K,M) when transposed: its rows have
  // `a_cols` elements, so lda must be at least that.
  const int64_t a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_cols = g.trans_b ? g.k : g.n;
  auto check_ld = [&](const char* what, int64_t ld, int64_t cols) {
    if (ld < cols)
      throw std::invalid_argument(name + ": " + what + "=" + std::to_string(ld) +
                                  " is smaller than the row length " + std::to_string(cols));
  };
  check_ld("lda", g.lda, a_cols);
  check_ld("ldb", g.ldb, b_cols);
  check_ld("ldc", g.ldc, g.n);
  const bool c_empty = g.m == 0 || g.n == 0;
  const bool ab_empty = c_empty || g.k == 0;
  if ((!c_empty && g.c == nullptr) || (!ab_empty && (g.a == nullptr || g.b == nullptr)))
    throw std::invalid_argument(name + ": null matrix pointer for a non-empty matrix");
}

void scale_c_by_beta(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* c_row = g.c + i * g.ldc;  // c_row is (N)
    for (int64_t j = 0; j < g.n; ++j) c_row[j] = g.beta == 0.0f ? 0.0f : g.beta * c_row[j];
  }
}

}  // namespace detail

void matmul_naive(const GemmArgs& g) {
  detail::check_gemm_args(g, "matmul_naive");
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      float sum = 0.0f;  // one output's dot product, accumulated in order p = 0..K-1
      for (int64_t p = 0; p < g.k; ++p) sum += detail::op_a(g, i, p) * detail::op_b(g, p, j);
      float& c = g.c[i * g.ldc + j];
      // beta == 0 must not read C: 0 * NaN would still be NaN.
      c = g.beta == 0.0f ? g.alpha * sum : g.alpha * sum + g.beta * c;
    }
  }
}

}  // namespace cpurich
