// hessian.cpp: Cholesky, the damped inverse factor and the OBS sweep (see
// hessian.h). Plain loops in f64: H is at most (4C, 4C) per Linear, and the
// sweep is the same GEMM-shaped work as one forward pass over `in` tokens.
#include "compress/hessian.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace cpurich::compress {

bool cholesky_lower(std::span<double> a, int64_t n) {
  // Column by column: L[j,j] = sqrt(a[j,j] - sum_k L[j,k]^2),
  // L[i,j] = (a[i,j] - sum_k L[i,k] L[j,k]) / L[j,j] for i > j.
  for (int64_t j = 0; j < n; ++j) {
    double s = a[j * n + j];
    for (int64_t k = 0; k < j; ++k) s -= a[j * n + k] * a[j * n + k];
    if (!(s > 0.0) || !std::isfinite(s)) return false;
    const double d = std::sqrt(s);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double t = a[i * n + j];
      for (int64_t k = 0; k < j; ++k) t -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = t / d;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = 0.0;
  return true;
}

std::vector<uint8_t> dead_columns(std::span<const double> h, int64_t n) {
  std::vector<uint8_t> dead(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) dead[i] = h[i * n + i] == 0.0 ? 1 : 0;
  return dead;
}

//! [inverse_cholesky_upper]
std::vector<double> inverse_cholesky_upper(std::span<const double> h, int64_t n, double damp) {
  if (!(damp >= 0.0)) throw std::invalid_argument("damping must be >= 0");
  std::vector<double> a(h.begin(), h.end());
  double mean_diag = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (a[i * n + i] == 0.0) a[i * n + i] = 1.0;  // dead column
    mean_diag += a[i * n + i];
  }
  mean_diag /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) a[i * n + i] += damp * mean_diag;
  if (!cholesky_lower(a, n))
    throw std::runtime_error("Hessian is not positive definite after damping " +
                             std::to_string(damp) + " (raise the damping)");
  // L^-1 (lower) by forward substitution, column by column of the identity.
  std::vector<double> li(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    li[j * n + j] = 1.0 / a[j * n + j];
    for (int64_t i = j + 1; i < n; ++i) {
      double s = 0.0;
      for (int64_t k = j; k < i; ++k) s -= a[i * n + k] * li[k * n + j];
      li[i * n + j] = s / a[i * n + i];
    }
  }
  // H^-1 = L^-T L^-1, then its own Cholesky factor; U = that factor's transpose.
  std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0.0;
      for (int64_t k = i; k < n; ++k) s += li[k * n + i] * li[k * n + j];
      hinv[i * n + j] = s;
      hinv[j * n + i] = s;
    }
  if (!cholesky_lower(hinv, n))
    throw std::runtime_error("inverse Hessian is not positive definite (raise the damping)");
  std::vector<double> u(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) u[i * n + j] = hinv[j * n + i];
  return u;
}
//! [inverse_cholesky_upper]

//! [obs_sweep]
void obs_sweep(std::span<double> wt, int64_t in, int64_t out, std::span<const double> u,
               int64_t block_size, const BlockStart& block_start, const ColumnRule& rule) {
  if (block_size < 1) throw std::invalid_argument("block size must be >= 1");
  std::vector<double> err(static_cast<size_t>(block_size * out));  // (B, out)
  std::vector<double> w(static_cast<size_t>(out));
  for (int64_t i1 = 0; i1 < in; i1 += block_size) {
    const int64_t i2 = std::min(in, i1 + block_size);
    if (block_start) block_start(i1, i2, wt);
    for (int64_t i = i1; i < i2; ++i) {
      double* wi = wt.data() + i * out;
      std::copy(wi, wi + out, w.begin());
      rule(i, wt);  // wi now holds the fixed column q
      const double d = u[i * in + i];
      double* e = err.data() + (i - i1) * out;
      for (int64_t r = 0; r < out; ++r) e[r] = (w[r] - wi[r]) / d;
      // Eager update of the rest of this block: w_j -= e * U[i,j].
      for (int64_t j = i + 1; j < i2; ++j) {
        const double uij = u[i * in + j];
        double* wj = wt.data() + j * out;
        for (int64_t r = 0; r < out; ++r) wj[r] -= e[r] * uij;
      }
    }
    // Lazy update of the columns after the block: W[:, i2:] -= Err^T U[i1:i2, i2:].
    for (int64_t j = i2; j < in; ++j) {
      double* wj = wt.data() + j * out;
      for (int64_t i = i1; i < i2; ++i) {
        const double uij = u[i * in + j];
        const double* e = err.data() + (i - i1) * out;
        for (int64_t r = 0; r < out; ++r) wj[r] -= e[r] * uij;
      }
    }
  }
}
//! [obs_sweep]

std::vector<int64_t> act_order(std::span<const double> h, int64_t n) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int64_t a, int64_t b) { return h[a * n + a] > h[b * n + b]; });
  return perm;
}

}  // namespace cpurich::compress
