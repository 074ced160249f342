// matmul_packed.h: internal entry points of the packed GEMM (steps d and e
// of the staircase), for the dispatcher and the tests.
#pragma once

#include "tensor/matmul.h"
#include "tensor/matmul_microkernel.h"

namespace cpurich::detail {

/// Step d (matmul_packed.cpp): the five BLIS loops on the calling thread.
/// `matmul_packed` is this with best_microkernel().
void packed_gemm_one_thread(const GemmArgs& g, const Microkernel& mk);

/// Step e (matmul_packed_mt.cpp): the same product shared by a team of up to
/// `threads` threads. `packed_mt` is this with best_microkernel() and
/// num_threads(). The result does not depend on `threads` (bit for bit) and
/// equals packed_gemm_one_thread's.
void packed_gemm(const GemmArgs& g, const Microkernel& mk, int threads);

/// The skinny path used when M == 1 or N == 1 (a vector times a matrix):
/// packing would cost as much as the product itself, so it streams the matrix
/// once. Threads split the outputs, never one output's sum.
void skinny_gemm(const GemmArgs& g, int threads);

}  // namespace cpurich::detail
