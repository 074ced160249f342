// compress_test_util.h (tests only): synthetic layers for the compression
// tests: weights, correlated calibration inputs with outlier columns, and
// the output error ||(W - W^) X^T||^2 every method is judged by.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tensor/quant_formats.h"

namespace cpurich::test {

inline std::vector<double> random_matrix(int64_t rows, int64_t cols, unsigned seed,
                                         double std = 1.0) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, std);
  std::vector<double> m(static_cast<size_t>(rows * cols));
  for (double& v : m) v = normal(gen);
  return m;
}

/// X (n, in): x = z M with a random mixing M (in, in) plus a shared factor, so
/// the columns are correlated; columns listed in `outliers` are scaled by `big`.
inline std::vector<double> correlated_inputs(int64_t n, int64_t in, unsigned seed,
                                             const std::vector<int64_t>& outliers = {},
                                             double big = 1.0) {
  const std::vector<double> z = random_matrix(n, in, seed);
  const std::vector<double> mix = random_matrix(in, in, seed + 1, 1.0 / std::sqrt(in));
  const std::vector<double> f = random_matrix(n, 1, seed + 2);
  std::vector<double> x(static_cast<size_t>(n * in), 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < in; ++k) {
      const double zk = z[s * in + k];
      for (int64_t c = 0; c < in; ++c) x[s * in + c] += zk * mix[k * in + c];
    }
  for (int64_t s = 0; s < n; ++s)
    for (int64_t c = 0; c < in; ++c) x[s * in + c] += 0.8 * f[s];
  for (int64_t c : outliers)
    for (int64_t s = 0; s < n; ++s) x[s * in + c] *= big;
  return x;
}

/// H = 2 X^T X / n (in, in).
inline std::vector<double> hessian_of(const std::vector<double>& x, int64_t n, int64_t in) {
  std::vector<double> h(static_cast<size_t>(in * in), 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) h[i * in + j] += 2.0 * x[s * in + i] * x[s * in + j] / n;
  return h;
}

/// sum over samples and rows of ((W - W^) x)^2: the layer's output error.
inline double output_error(const std::vector<double>& w, const std::vector<double>& w_hat,
                           int64_t out, int64_t in, const std::vector<double>& x, int64_t n) {
  double e = 0.0;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t r = 0; r < out; ++r) {
      double y = 0.0;
      for (int64_t c = 0; c < in; ++c) y += (w[r * in + c] - w_hat[r * in + c]) * x[s * in + c];
      e += y * y;
    }
  return e;
}

inline std::vector<double> dequantized(const QuantMatrix& q) {
  std::vector<float> f(static_cast<size_t>(q.rows * q.cols));
  dequantize_matrix(q, f);
  return {f.begin(), f.end()};
}

}  // namespace cpurich::test
