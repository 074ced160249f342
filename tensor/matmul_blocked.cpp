// matmul_blocked.cpp: step c of the staircase, cache blocking.
//
// What it teaches: the i-k-j loop streams all of B (K x N floats) through the
// cache once per row of A. When B is bigger than the cache, every row reloads
// it from RAM. Blocking cuts the three loops into tiles,
//     for j0 (NB columns) / for p0 (KB) / for i0 (MB rows): i-k-j inside the tile
// so one (KB x NB) tile of B (here 128 x 256 floats = 128 KiB, in L2) stays in
// cache while every row of A passes over it, MB rows at a time. p0 ascends and
// the loop inside a tile is still i-k-j, so every C(i,j) still receives its
// products in the order p = 0..K-1.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include <algorithm>

#include "tensor/matmul_internal.h"

namespace cpurich {
namespace {

constexpr int64_t kBlockM = 64;   // rows of A / C per tile
constexpr int64_t kBlockK = 128;  // depth of a tile
constexpr int64_t kBlockN = 256;  // columns of B / C per tile

// C[i0:i1, j0:j1] += alpha * op(A)[i0:i1, p0:p1] @ op(B)[p0:p1, j0:j1]
void tile_ikj(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1, int64_t j0,
              int64_t j1) {
  for (int64_t i = i0; i < i1; ++i) {
    float* c_row = g.c + i * g.ldc;  // c_row is (N)
    for (int64_t p = p0; p < p1; ++p) {
      const float a_ip = g.alpha * detail::op_a(g, i, p);
      if (!g.trans_b) {
        const float* b_row = g.b + p * g.ldb;  // b_row is (N)
        for (int64_t j = j0; j < j1; ++j) c_row[j] += a_ip * b_row[j];
      } else {
        for (int64_t j = j0; j < j1; ++j) c_row[j] += a_ip * g.b[j * g.ldb + p];
      }
    }
  }
}

}  // namespace

void matmul_blocked(const GemmArgs& g) {
  detail::check_gemm_args(g, "matmul_blocked");
  detail::scale_c_by_beta(g);
  // The tile order j0 / p0 / i0 keeps one B tile hot while all rows pass over it.
  // p0 ascends for every C element, so the K-sum order is still p = 0..K-1.
  for (int64_t j0 = 0; j0 < g.n; j0 += kBlockN) {
    const int64_t j1 = std::min(g.n, j0 + kBlockN);
    for (int64_t p0 = 0; p0 < g.k; p0 += kBlockK) {
      const int64_t p1 = std::min(g.k, p0 + kBlockK);
      for (int64_t i0 = 0; i0 < g.m; i0 += kBlockM) {
        tile_ikj(g, i0, std::min(g.m, i0 + kBlockM), p0, p1, j0, j1);
      }
    }
  }
}

}  // namespace cpurich
