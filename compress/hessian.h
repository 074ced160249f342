// hessian.h: the second-order machinery GPTQ and SparseGPT share.
//
// What it teaches: for one Linear y = W x with calibration inputs X (in, N),
// changing W by dW changes the outputs by dW X, and the squared error is
//   ||dW X||^2 = sum over output rows r of  dw_r^T H dw_r / 2,   H = 2 X X^T  (in, in).
// Rows are independent and share H. Optimal Brain Surgeon: if column i of a
// row is forced from w_i to q_i (rounded or pruned), the best compensation of
// the not-yet-fixed columns j > i is
//   w_j -= (w_i - q_i) / U[i,i] * U[i,j]
// where U is the upper Cholesky factor of H^-1 (H^-1 = U^T U): row i of U is
// the Hessian inverse restricted to columns i.. after columns < i are fixed,
// scaled by its pivot. Processing columns left to right, each one is fixed
// once and the error it causes is pushed onto the columns to its right.
//
// Lazy batches: the update from column i touches every column j > i, a
// memory-bound rank-1 sweep. Instead columns are processed in blocks of
// B (128): inside a block updates go eagerly to the block's columns; the
// block's errors Err (B, out) are applied to the columns after the block at
// once, W[:, i2:] -= Err^T U[i1:i2, i2:], a GEMM with B times the reuse.
//
// Pipeline position: calibration statistics -> [hessian] -> gptq / prune.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace cpurich::compress {

/// a (n, n) symmetric -> its lower Cholesky factor L (a = L L^T) in place
/// (upper triangle zeroed). Returns false, leaving a partly overwritten, when
/// a pivot is not positive (a is not positive definite).
bool cholesky_lower(std::span<double> a, int64_t n);

/// Columns whose diagonal H[i,i] is 0: no calibration input ever reached
/// them, so their weights cannot matter to the outputs.
std::vector<uint8_t> dead_columns(std::span<const double> h, int64_t n);

/// H (n, n) -> U (n, n), the upper Cholesky factor of (H + lambda I)^-1,
/// row-major, lambda = damp * mean(diag H). Dead columns get H[i,i] = 1
/// first (the caller zeroes their weights). Damping keeps H invertible when
/// there are fewer calibration samples than inputs or inputs are collinear.
/// Throws std::invalid_argument on damp < 0, std::runtime_error (one line)
/// when the damped H is still not positive definite.
std::vector<double> inverse_cholesky_upper(std::span<const double> h, int64_t n, double damp);

/// Rewrites row i of wt (column i of W) in place: rounds or prunes it. It may
/// read rows i.. of wt up to the end of the current block (already updated).
using ColumnRule = std::function<void(int64_t i, std::span<double> wt)>;
/// Called before each block [i1, i2) of columns (SparseGPT picks its mask there).
using BlockStart = std::function<void(int64_t i1, int64_t i2, std::span<const double> wt)>;

/// The OBS sweep on wt (in, out) = W^T (row i of wt is column i of W, so a
/// column is contiguous), with U (in, in) from inverse_cholesky_upper. After
/// it, wt holds the fixed values every column was rewritten to by `rule`.
//! [obs_sweep_decl]
void obs_sweep(std::span<double> wt, int64_t in, int64_t out, std::span<const double> u,
               int64_t block_size, const BlockStart& block_start, const ColumnRule& rule);
//! [obs_sweep_decl]

/// Sorted order of the columns by decreasing H[i,i] (ties by index): GPTQ's
/// act-order fixes the columns that matter most first, while the most
/// columns are still free to absorb their error.
std::vector<int64_t> act_order(std::span<const double> h, int64_t n);

}  // namespace cpurich::compress
