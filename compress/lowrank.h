// lowrank.h: truncated SVD, W ~ U_r S_r V_r^T.
//
// What it teaches: every matrix is a sum of rank-1 layers sigma_k u_k v_k^T
// with sigma_1 >= sigma_2 >= ... >= 0; keeping the r largest is the best
// rank-r approximation in both the Frobenius and the spectral norm
// (Eckart-Young), with error ||W - W_r||_F^2 = sum_{k>r} sigma_k^2. Stored
// as the factors it costs r (m + n) numbers instead of m n.
//
// The SVD is one-sided Jacobi (Hestenes): rotate pairs of columns of A (m, n)
// until every pair is orthogonal; then the column norms are the singular
// values, the normalised columns are U and the accumulated rotations are V.
// Plain f64, sweeps until no pair has |a_p . a_q| > eps ||a_p|| ||a_q||.
//
// Pipeline position: trained weights -> [lowrank] -> a model whose Linears
// have rank <= r (returned dense: a model stays a model).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cpurich::compress {

/// A = U diag(s) V^T for A (m, n): U (m, k), s (k,) descending, V (n, k),
/// k = min(m, n), all row-major.
struct Svd {
  int64_t m = 0, n = 0, k = 0;
  std::vector<double> u;
  std::vector<double> s;
  std::vector<double> v;
};

/// The thin SVD of a (m, n) row-major. Throws std::invalid_argument on an
/// empty or non-finite matrix, std::runtime_error if Jacobi does not converge.
Svd svd(std::span<const double> a, int64_t m, int64_t n);

/// a (m, n) -> its best rank-r approximation U_r S_r V_r^T (m, n); r >= min(m, n)
/// returns a unchanged. Throws std::invalid_argument on r < 1.
std::vector<double> low_rank_approx(std::span<const double> a, int64_t m, int64_t n, int64_t r);

}  // namespace cpurich::compress
