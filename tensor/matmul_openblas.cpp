// matmul_openblas.cpp: the reference backend, OpenBLAS's cblas_sgemm.
//
// What it teaches: how our GemmArgs map onto the standard BLAS interface.
// BLAS takes the same (trans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
// arguments; we only have to say "row-major". We never use it in the model:
// it is the yardstick the benchmark and lesson measure our kernels against.
//
// Pipeline position: bench/gemm and lessons/02_matmul only.
#include <stdexcept>

#include "tensor/matmul_internal.h"

#ifdef CPURICH_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace cpurich {

bool openblas_available() {
#ifdef CPURICH_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

void matmul_openblas(const GemmArgs& g) {
  detail::check_gemm_args(g, "matmul_openblas");
#ifdef CPURICH_HAVE_OPENBLAS
  if (g.m == 0 || g.n == 0) return;
  // BLAS's own contract matches ours: with beta == 0, C is only written
  // (tests/matmul checks that NaN in C does not leak through).
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
              g.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(g.m),
              static_cast<blasint>(g.n), static_cast<blasint>(g.k), g.alpha, g.a,
              static_cast<blasint>(g.lda), g.b, static_cast<blasint>(g.ldb), g.beta, g.c,
              static_cast<blasint>(g.ldc));
#else
  throw std::runtime_error("matmul_openblas: cpurich was built without OpenBLAS");
#endif
}

}  // namespace cpurich
