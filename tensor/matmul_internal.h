// matmul_internal.h: helpers shared by the matmul staircase files (not public).
//
// What it teaches: every kernel reads op(A) and op(B) through the same two
// index formulas, so the transposes are handled in exactly one place:
//   op(A)(i,p) = trans_a ? a[p*lda + i] : a[i*lda + p]      // op(A) is (M,K)
//   op(B)(p,j) = trans_b ? b[j*ldb + p] : b[p*ldb + j]      // op(B) is (K,N)
// The fast kernels avoid these per-element branches by packing (see
// matmul_packed.cpp), but the slow steps use them as written.
#pragma once

#include <cstdint>

#include "tensor/matmul.h"

namespace cpurich::detail {

/// Throws std::invalid_argument when sizes are negative, a leading dimension is
/// too small for the stored matrix, or a pointer is null while its matrix is
/// non-empty. `who` names the kernel in the message.
void check_gemm_args(const GemmArgs& g, const char* who);

/// op(A)(i, p): element (i, p) of the (M,K) left operand.
inline float op_a(const GemmArgs& g, int64_t i, int64_t p) {
  return g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
}

/// op(B)(p, j): element (p, j) of the (K,N) right operand.
inline float op_b(const GemmArgs& g, int64_t p, int64_t j) {
  return g.trans_b ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
}

/// C = beta * C over the whole (M,N) block; beta == 0 writes zeros without
/// reading C (so NaN/Inf garbage in an uninitialised C cannot leak through).
/// The ikj and blocked steps start with this, then accumulate alpha*A*B into C.
void scale_c_by_beta(const GemmArgs& g);

}  // namespace cpurich::detail
