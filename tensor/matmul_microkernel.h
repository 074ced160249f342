// matmul_microkernel.h: the register-blocked heart of the packed GEMM (internal).
//
// What it teaches: a microkernel computes one small MR x NR tile of C,
//     C_tile = alpha * A_sliver (MR x kc) @ B_sliver (kc x NR) + beta * C_tile,
// keeping the whole tile in SIMD registers for the entire kc loop. Each step
// p loads one row of B (NR floats = NR/16 zmm registers), broadcasts each of
// the MR values of A's column p, and issues MR * NR/16 fused multiply-adds.
// Both slivers were packed (matmul_packed.cpp) so these loads are contiguous:
//     a_pack[p*MR + i] = op(A)(i, p)      b_pack[p*NR + j] = op(B)(p, j)
// Each C element's kc products are added in the order p = 0..kc-1.
#pragma once

#include <cstdint>
#include <string>

namespace cpurich::detail {

/// The C tile: the top-left (rows, cols) of an MR x NR tile at c (row stride
/// ldc), rows <= MR, cols <= NR. Edge tiles use the same arithmetic as full
/// ones (only the loads/stores are masked), so a C element gets the same bits
/// whichever tile it falls in. beta == 0: C is written, never read.
struct CTile {
  float* c;
  int64_t ldc, rows, cols;
};

/// Row p of the B sliver starts at b_pack + p * b_stride: b_stride = NR for a
/// packed sliver, ldb when a full-width sliver is read in place from B.
using MicrokernelFn = void (*)(int64_t kc, const float* a_pack, const float* b_pack,
                               int64_t b_stride, const CTile& tile, float alpha, float beta);

/// Packs `rows` (<= MR) rows of a row-major A (a points at (row 0, col 0),
/// row stride lda) and kc columns into one sliver dst (kc, MR), zero-padding
/// rows..MR-1. This is a transpose; a SIMD version is much faster than the
/// scalar loop, and matters when N is small (A is re-packed for every N/NR).
using PackAFn = void (*)(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst);

/// Packs `cols` (<= NR) rows of a stored B^T (bt points at (row 0, col 0), row
/// stride ldb) and kc columns into one B sliver dst (kc, NR), zero-padding
/// columns cols..NR-1: again a transpose, used when trans_b.
using PackBFn = void (*)(const float* bt, int64_t ldb, int64_t cols, int64_t kc, float* dst);

/// A microkernel and its tile shape; the packing routines read mr / nr.
struct Microkernel {
  std::string isa;  ///< "avx512", "avx2" or "portable"
  int64_t mr = 0;   ///< rows of the C tile
  int64_t nr = 0;   ///< columns of the C tile
  MicrokernelFn fn = nullptr;
  PackAFn pack_a_rows = nullptr;  ///< SIMD packing of untransposed A, or null
  PackBFn pack_b_cols = nullptr;  ///< SIMD packing of transposed B, or null
};

/// The fastest microkernel this CPU supports (detected once).
const Microkernel& best_microkernel();
/// The microkernel for `isa`; throws std::invalid_argument if unknown or not
/// supported by this CPU. Tests use it to check every ISA against naive.
Microkernel microkernel_for_isa(const std::string& isa);

// The kernels themselves. The x86 ones exist only in x86-64 builds.
void microkernel_portable_4x16(int64_t kc, const float* a_pack, const float* b_pack,
                               int64_t b_stride, const CTile& tile, float alpha, float beta);
#if defined(__x86_64__)
void microkernel_avx2_6x16(int64_t kc, const float* a_pack, const float* b_pack, int64_t b_stride,
                           const CTile& tile, float alpha, float beta);
void microkernel_avx512_14x32(int64_t kc, const float* a_pack, const float* b_pack,
                              int64_t b_stride, const CTile& tile, float alpha, float beta);
void pack_a_rows_avx512_14(const float* a, int64_t lda, int64_t rows, int64_t kc, float* dst);
void pack_b_cols_avx512_32(const float* bt, int64_t ldb, int64_t cols, int64_t kc, float* dst);
#endif

}  // namespace cpurich::detail
