// matmul_packed.h: internal entry points of the packed GEMM, for tests.
#pragma once

#include "tensor/matmul.h"
#include "tensor/matmul_microkernel.h"

namespace cpurich::detail {

/// The packed GEMM with an explicit microkernel and thread count. `packed`
/// is this with best_microkernel() and 1 thread, `packed_mt` with
/// num_threads(). The result does not depend on `threads` (bit for bit).
void packed_gemm(const GemmArgs& g, const Microkernel& mk, int threads);

/// The skinny path used when M == 1 or N == 1 (a vector times a matrix):
/// packing would cost as much as the product itself, so it streams the matrix
/// once. Threads split the outputs, never one output's sum.
void skinny_gemm(const GemmArgs& g, int threads);

}  // namespace cpurich::detail
