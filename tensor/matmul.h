// matmul.h: the matrix-multiplication staircase and the tensor-level matmul.
//
// What it teaches: the same C = op(A) @ op(B) computed six ways, each a step
// up in speed, each a function with the same signature so a lesson, a test or
// a benchmark can pick one by name:
//   naive        i-j-k triple loop, the reference everything is tested against
//   ikj          loop order i-k-j: the inner loop walks B and C row-wise
//   blocked      cache blocking: tiles of A, B, C that stay in L1/L2
//   packed       BLIS-style: pack A and B panels, register-blocked microkernel
//                (AVX-512 / AVX2 / portable C++, chosen at run time)
//   packed_mt    the same, a thread team over output tiles (matmul_packed_mt.cpp)
//   openblas     cblas_sgemm, the reference we measure against (if built)
// Our kernels never split one output element's K-sum across threads, so their
// result is bitwise identical for any thread count.
//
// Pipeline position: every Linear layer, attention and their backward passes.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cpurich {

/// One GEMM call: C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C.
/// op(A) = A if !trans_a, else A^T; A is stored row-major with leading
/// dimension lda (so A is (M,K) with lda >= K, or (K,M) with lda >= M when
/// trans_a). Same for B (K,N) / (N,K) and C (M,N) with ldc >= N.
/// beta == 0 means C is overwritten (its old contents are never read, even NaN).
struct GemmArgs {
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* c = nullptr;
  int64_t ldc = 0;
};

enum class MatmulKernel { Naive, Ikj, Blocked, Packed, PackedMT, OpenBLAS };

void matmul_naive(const GemmArgs& g);
void matmul_ikj(const GemmArgs& g);
void matmul_blocked(const GemmArgs& g);
void matmul_packed(const GemmArgs& g);
void matmul_packed_mt(const GemmArgs& g);
/// Throws std::runtime_error if cpurich was built without OpenBLAS.
void matmul_openblas(const GemmArgs& g);

/// Runs one GEMM with the chosen kernel.
void gemm(MatmulKernel kernel, const GemmArgs& g);
/// The fastest kernel we have (packed_mt); what the model code uses.
void gemm(const GemmArgs& g);

/// "naive", "ikj", "blocked", "packed", "packed_mt", "openblas".
std::string kernel_name(MatmulKernel kernel);
/// Inverse of kernel_name; throws std::invalid_argument listing valid names.
MatmulKernel kernel_from_name(const std::string& name);
/// Every kernel available in this build, slowest first.
std::vector<MatmulKernel> available_kernels();
bool openblas_available();
/// Which microkernel `packed` uses on this CPU: "avx512", "avx2" or "portable".
std::string microkernel_isa();

/// Tensor matmul: a (..., M, K) @ b (..., K, N) -> (..., M, N), with op() applied
/// to the last two dims when trans_a / trans_b. Leading (batch) dims broadcast;
/// a 2-D b is shared by every batch. F32 uses `kernel`; F64 (for gradient checks)
/// uses a naive double loop. Inputs may be non-contiguous (copied if needed).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false,
              MatmulKernel kernel = MatmulKernel::PackedMT);

}  // namespace cpurich
