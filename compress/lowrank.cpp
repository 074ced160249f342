// lowrank.cpp: one-sided Jacobi SVD and the rank-r truncation (see lowrank.h).
#include "compress/lowrank.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace cpurich::compress {

//! [jacobi_svd]
Svd svd(std::span<const double> a, int64_t m, int64_t n) {
  if (m < 1 || n < 1 || static_cast<int64_t>(a.size()) != m * n)
    throw std::invalid_argument("svd: need a non-empty (m, n) matrix");
  for (double x : a)
    if (!std::isfinite(x)) throw std::invalid_argument("svd: non-finite entry");
  // Work on the tall orientation: columns of g (rows x cols) with rows >= cols.
  const bool tr = m < n;
  const int64_t rows = tr ? n : m, cols = tr ? m : n;
  // g stored column-major (column j contiguous) so a rotation touches two runs.
  std::vector<double> g(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (tr)
        g[i * rows + j] = a[i * n + j];  // column i of A^T is row i of A
      else
        g[j * rows + i] = a[i * n + j];
    }
  std::vector<double> v(static_cast<size_t>(cols * cols), 0.0);  // column-major too
  for (int64_t j = 0; j < cols; ++j) v[j * cols + j] = 1.0;
  constexpr double eps = 1e-15;
  bool converged = false;
  for (int sweep = 0; sweep < 60 && !converged; ++sweep) {
    converged = true;
    for (int64_t p = 0; p < cols - 1; ++p)
      for (int64_t q = p + 1; q < cols; ++q) {
        double* gp = g.data() + p * rows;
        double* gq = g.data() + q * rows;
        double alpha = 0.0, beta = 0.0, gamma = 0.0;
        for (int64_t i = 0; i < rows; ++i) {
          alpha += gp[i] * gp[i];
          beta += gq[i] * gq[i];
          gamma += gp[i] * gq[i];
        }
        if (gamma == 0.0 || std::fabs(gamma) <= eps * std::sqrt(alpha * beta)) continue;
        converged = false;
        // The rotation that zeroes the pair's inner product:
        // zeta = (beta - alpha) / (2 gamma), t = sign(zeta) / (|zeta| + sqrt(1 + zeta^2)).
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = std::copysign(1.0, zeta) / (std::fabs(zeta) + std::hypot(1.0, zeta));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
        for (int64_t i = 0; i < rows; ++i) {
          const double x = gp[i], y = gq[i];
          gp[i] = c * x - s * y;
          gq[i] = s * x + c * y;
        }
        double* vp = v.data() + p * cols;
        double* vq = v.data() + q * cols;
        for (int64_t i = 0; i < cols; ++i) {
          const double x = vp[i], y = vq[i];
          vp[i] = c * x - s * y;
          vq[i] = s * x + c * y;
        }
      }
  }
  if (!converged) throw std::runtime_error("svd: Jacobi sweeps did not converge");
  // sigma_j = ||g_j||, left vector g_j / sigma_j; sort descending.
  std::vector<double> sig(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += g[j * rows + i] * g[j * rows + i];
    sig[j] = std::sqrt(s);
  }
  std::vector<int64_t> order(static_cast<size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return sig[x] > sig[y]; });
  // G = A_tall V, so A_tall = Ul S V^T with Ul = G / sigma. If A was wide,
  // A = (A^T)^T = V S Ul^T: the roles of U and V swap.
  Svd out{.m = m, .n = n, .k = cols};
  out.s.resize(static_cast<size_t>(cols));
  std::vector<double> ul(static_cast<size_t>(rows * cols), 0.0),
      vr(static_cast<size_t>(cols * cols));
  for (int64_t kk = 0; kk < cols; ++kk) {
    const int64_t j = order[kk];
    out.s[kk] = sig[j];
    for (int64_t i = 0; i < rows; ++i)
      ul[i * cols + kk] = sig[j] > 0.0 ? g[j * rows + i] / sig[j] : 0.0;
    for (int64_t i = 0; i < cols; ++i) vr[i * cols + kk] = v[j * cols + i];
  }
  out.u = tr ? vr : ul;
  out.v = tr ? ul : vr;
  return out;
}
//! [jacobi_svd]

std::vector<double> low_rank_approx(std::span<const double> a, int64_t m, int64_t n, int64_t r) {
  if (r < 1) throw std::invalid_argument("low rank: rank must be >= 1");
  if (r >= std::min(m, n)) return std::vector<double>(a.begin(), a.end());
  const Svd d = svd(a, m, n);
  std::vector<double> out(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t kk = 0; kk < r; ++kk) {
      const double us = d.u[i * d.k + kk] * d.s[kk];
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += us * d.v[j * d.k + kk];
    }
  return out;
}

}  // namespace cpurich::compress
