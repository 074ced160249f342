// loftq.cpp: the truncated SVD and LoftQ's alternation (see loftq.h).
#include "nn/loftq.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace cpurich {

namespace {

// splitmix64: a seeded stream of 64-bit words, the same on every platform.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A standard normal by Box-Muller from two uniforms in (0, 1].
double gaussian(uint64_t& state) {
  const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// y (rows, k) = m (rows, cols) @ x (cols, k)
void mul(std::span<const double> m, int64_t rows, int64_t cols, const std::vector<double>& x,
         int64_t k, std::vector<double>& y) {
  y.assign(static_cast<size_t>(rows * k), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      const double v = m[static_cast<size_t>(i * cols + c)];
      for (int64_t j = 0; j < k; ++j) y[i * k + j] += v * x[c * k + j];
    }
}

// y (cols, k) = m^T (cols, rows) @ x (rows, k)
void mul_t(std::span<const double> m, int64_t rows, int64_t cols, const std::vector<double>& x,
           int64_t k, std::vector<double>& y) {
  y.assign(static_cast<size_t>(cols * k), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      const double v = m[static_cast<size_t>(i * cols + c)];
      for (int64_t j = 0; j < k; ++j) y[c * k + j] += v * x[i * k + j];
    }
}

// The columns of y (rows, k) made orthonormal in place by modified
// Gram-Schmidt, run twice ("twice is enough": the second pass removes what
// rounding left of the first). A column that vanishes becomes zero.
void orthonormalize(std::vector<double>& y, int64_t rows, int64_t k) {
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t p = 0; p < j; ++p) {
        double d = 0.0;
        for (int64_t i = 0; i < rows; ++i) d += y[i * k + p] * y[i * k + j];
        for (int64_t i = 0; i < rows; ++i) y[i * k + j] -= d * y[i * k + p];
      }
      double n2 = 0.0;
      for (int64_t i = 0; i < rows; ++i) n2 += y[i * k + j] * y[i * k + j];
      const double inv = n2 > 1e-300 ? 1.0 / std::sqrt(n2) : 0.0;
      for (int64_t i = 0; i < rows; ++i) y[i * k + j] *= inv;
    }
}

// c (k, k) symmetric -> eigenvalues (descending) and eigenvectors v (k, k),
// column j for value j, by cyclic Jacobi rotations: each rotation zeroes one
// off-diagonal pair; sweeps repeat until the off-diagonal mass is negligible.
void jacobi_eigen(std::vector<double> c, int64_t k, std::vector<double>& values,
                  std::vector<double>& v) {
  v.assign(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i) v[i * k + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) (i == j ? diag : off) += c[i * k + j] * c[i * k + j];
    if (off <= 1e-30 * diag || off == 0.0) break;
    for (int64_t p = 0; p < k; ++p)
      for (int64_t q = p + 1; q < k; ++q) {
        const double apq = c[p * k + q];
        if (apq == 0.0) continue;
        // tan of the angle that zeroes c[p][q]: theta = (c_qq - c_pp) / (2 c_pq).
        const double theta = (c[q * k + q] - c[p * k + p]) / (2.0 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double cs = 1.0 / std::sqrt(t * t + 1.0), sn = t * cs;
        for (int64_t i = 0; i < k; ++i) {  // c = c J (columns p, q)
          const double cip = c[i * k + p], ciq = c[i * k + q];
          c[i * k + p] = cs * cip - sn * ciq;
          c[i * k + q] = sn * cip + cs * ciq;
        }
        for (int64_t i = 0; i < k; ++i) {  // c = J^T c (rows p, q)
          const double cpi = c[p * k + i], cqi = c[q * k + i];
          c[p * k + i] = cs * cpi - sn * cqi;
          c[q * k + i] = sn * cpi + cs * cqi;
        }
        for (int64_t i = 0; i < k; ++i) {  // v = v J
          const double vip = v[i * k + p], viq = v[i * k + q];
          v[i * k + p] = cs * vip - sn * viq;
          v[i * k + q] = sn * vip + cs * viq;
        }
      }
  }
  std::vector<int64_t> order(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return c[a * k + a] > c[b * k + b]; });
  values.resize(static_cast<size_t>(k));
  std::vector<double> sorted(static_cast<size_t>(k * k));
  for (int64_t j = 0; j < k; ++j) {
    values[j] = c[order[j] * k + order[j]];
    for (int64_t i = 0; i < k; ++i) sorted[i * k + j] = v[i * k + order[j]];
  }
  v = std::move(sorted);
}

}  // namespace

TruncatedSvd truncated_svd(std::span<const double> m, int64_t rows, int64_t cols, int64_t rank,
                           uint64_t seed, int power_iters) {
  if (rank < 1 || rank > std::min(rows, cols) || static_cast<int64_t>(m.size()) != rows * cols)
    throw std::invalid_argument("truncated_svd: rank " + std::to_string(rank) + " for a (" +
                                std::to_string(rows) + ", " + std::to_string(cols) + ") matrix");
  const int64_t k = std::min(rank + 8, std::min(rows, cols));  // 8 oversampling columns
  std::vector<double> omega(static_cast<size_t>(cols * k));    // (cols, k)
  uint64_t state = seed;
  for (double& v : omega) v = gaussian(state);
  std::vector<double> y, z;
  mul(m, rows, cols, omega, k, y);  // (rows, k)
  orthonormalize(y, rows, k);
  for (int it = 0; it < power_iters; ++it) {
    mul_t(m, rows, cols, y, k, z);  // (cols, k)
    orthonormalize(z, cols, k);
    mul(m, rows, cols, z, k, y);
    orthonormalize(y, rows, k);
  }
  // small (k, cols) = Q^T M; its Gram matrix small small^T (k, k) = V L V^T.
  std::vector<double> small;
  mul_t(m, rows, cols, y, k, z);  // z = M^T Q (cols, k) = small^T
  std::vector<double> gram(static_cast<size_t>(k * k), 0.0);
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) gram[i * k + j] += z[c * k + i] * z[c * k + j];
  std::vector<double> lambda, v;
  jacobi_eigen(gram, k, lambda, v);
  TruncatedSvd r{.rank = rank,
                 .u = std::vector<double>(static_cast<size_t>(rows * rank), 0.0),
                 .s = std::vector<double>(static_cast<size_t>(rank), 0.0),
                 .vt = std::vector<double>(static_cast<size_t>(rank * cols), 0.0)};
  for (int64_t j = 0; j < rank; ++j) {
    const double sv = std::sqrt(std::max(0.0, lambda[j]));
    r.s[j] = sv;
    for (int64_t i = 0; i < rows; ++i) {  // u_j = Q v_j
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) acc += y[i * k + p] * v[p * k + j];
      r.u[i * rank + j] = acc;
    }
    if (sv == 0.0) continue;              // a zero singular value: its direction adds nothing
    for (int64_t c = 0; c < cols; ++c) {  // vt_j = v_j^T small / s_j
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) acc += v[p * k + j] * z[c * k + p];
      r.vt[j * cols + c] = acc / sv;
    }
  }
  return r;
}

LoftqInit loftq_init(std::span<const float> w, int64_t out, int64_t in, int64_t rank, double scale,
                     int64_t iters, uint64_t seed) {
  if (iters < 1) throw std::invalid_argument("loftq: iterations must be >= 1");
  if (!(scale > 0.0)) throw std::invalid_argument("loftq: scale must be > 0");
  const auto n = static_cast<size_t>(out * in);
  std::vector<float> residual(w.begin(), w.end());  // R = W - s B A, quantized next
  std::vector<float> deq(n);
  std::vector<double> err(n);
  LoftqInit r;
  TruncatedSvd svd;
  //! [loftq_loop]
  for (int64_t t = 0; t < iters; ++t) {
    r.q = quantize_matrix(QuantFormat::NF4, residual, out, in);
    dequantize_matrix(r.q, deq);
    for (size_t i = 0; i < n; ++i) err[i] = static_cast<double>(w[i]) - deq[i];
    svd = truncated_svd(err, out, in, rank, seed + static_cast<uint64_t>(t));
    for (int64_t o = 0; o < out; ++o)
      for (int64_t c = 0; c < in; ++c) {
        double lr = 0.0;  // (U S V^T)[o, c]
        for (int64_t j = 0; j < rank; ++j)
          lr += svd.u[o * rank + j] * svd.s[j] * svd.vt[j * in + c];
        residual[o * in + c] = static_cast<float>(w[o * in + c] - lr);
      }
  }
  //! [loftq_loop]
  r.a.resize(static_cast<size_t>(rank * in));
  r.b.resize(static_cast<size_t>(out * rank));
  for (int64_t j = 0; j < rank; ++j) {
    const double f = std::sqrt(svd.s[j] / scale);  // sqrt(S) / sqrt(s) on each side
    for (int64_t c = 0; c < in; ++c) r.a[j * in + c] = static_cast<float>(f * svd.vt[j * in + c]);
    for (int64_t o = 0; o < out; ++o)
      r.b[o * rank + j] = static_cast<float>(f * svd.u[o * rank + j]);
  }
  return r;
}

double qlora_init_error(std::span<const float> w, const QuantMatrix& q, std::span<const float> a,
                        std::span<const float> b, int64_t rank, double scale) {
  const int64_t out = q.rows, in = q.cols;
  std::vector<float> row(static_cast<size_t>(in));
  double sq = 0.0;
  for (int64_t o = 0; o < out; ++o) {
    dequantize_matrix_row(q, o, row);
    for (int64_t c = 0; c < in; ++c) {
      double ba = 0.0;
      for (int64_t j = 0; j < rank; ++j) ba += static_cast<double>(b[o * rank + j]) * a[j * in + c];
      const double e = static_cast<double>(w[o * in + c]) - row[c] - scale * ba;
      sq += e * e;
    }
  }
  return std::sqrt(sq);
}

}  // namespace cpurich
