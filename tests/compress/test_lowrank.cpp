// test_lowrank.cpp: the Jacobi SVD on known cases and exact low-rank matrices.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "compress/lowrank.h"
#include "compress_test_util.h"

using namespace cpurich::compress;
using cpurich::test::random_matrix;

namespace {

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<double> product(const std::vector<double>& a, const std::vector<double>& b, int64_t m,
                            int64_t k, int64_t n) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t < k; ++t)
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += a[i * k + t] * b[t * n + j];
  return c;
}

}  // namespace

TEST_CASE("svd of [[3, 0], [4, 5]]: singular values 3 sqrt 5 and sqrt 5") {
  // A^T A = [[25, 20], [20, 25]] has eigenvalues 45 and 5.
  const Svd d = svd(std::vector<double>{3, 0, 4, 5}, 2, 2);
  CHECK(d.s[0] == Approx(3.0 * std::sqrt(5.0)).epsilon(1e-14));
  CHECK(d.s[1] == Approx(std::sqrt(5.0)).epsilon(1e-14));
  const Svd e = svd(std::vector<double>{0, 2, 0, 0, 0, 0}, 2, 3);  // one entry
  CHECK(e.s[0] == Approx(2.0));
  CHECK(e.s[1] == 0.0);
}

TEST_CASE("svd reconstructs a random matrix and its factors are orthonormal, tall and wide") {
  for (auto [m, n] : {std::pair<int64_t, int64_t>{20, 12}, {12, 20}}) {
    const auto a = random_matrix(m, n, 81);
    const Svd d = svd(a, m, n);
    REQUIRE(d.k == std::min(m, n));
    for (int64_t i = 1; i < d.k; ++i) CHECK(d.s[i - 1] >= d.s[i]);
    std::vector<double> us(d.u);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < d.k; ++k) us[i * d.k + k] *= d.s[k];
    std::vector<double> vt(static_cast<size_t>(d.k * n));
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < d.k; ++k) vt[k * n + j] = d.v[j * d.k + k];
    CHECK(max_abs_diff(product(us, vt, m, d.k, n), a) < 1e-12);
    for (int64_t p = 0; p < d.k; ++p)
      for (int64_t q = 0; q < d.k; ++q) {
        double uu = 0.0, vv = 0.0;
        for (int64_t i = 0; i < m; ++i) uu += d.u[i * d.k + p] * d.u[i * d.k + q];
        for (int64_t j = 0; j < n; ++j) vv += d.v[j * d.k + p] * d.v[j * d.k + q];
        CHECK(uu == Approx(p == q ? 1.0 : 0.0).margin(1e-12));
        CHECK(vv == Approx(p == q ? 1.0 : 0.0).margin(1e-12));
      }
  }
}

TEST_CASE("rank-r truncation: exact on a rank-3 matrix, Eckart-Young error otherwise") {
  const int64_t m = 24, n = 16;
  const auto a = product(random_matrix(m, 3, 91), random_matrix(3, n, 92), m, 3, n);
  CHECK(max_abs_diff(low_rank_approx(a, m, n, 3), a) < 1e-9);
  CHECK(max_abs_diff(low_rank_approx(a, m, n, 16), a) == 0.0);  // full rank: unchanged
  const auto b = random_matrix(m, n, 93);
  const Svd d = svd(b, m, n);
  const auto b4 = low_rank_approx(b, m, n, 4);
  double err = 0.0, tail = 0.0;
  for (size_t i = 0; i < b.size(); ++i) err += (b[i] - b4[i]) * (b[i] - b4[i]);
  for (int64_t k = 4; k < d.k; ++k) tail += d.s[k] * d.s[k];
  CHECK(err == Approx(tail).epsilon(1e-10));
  CHECK_THROWS_AS(low_rank_approx(b, m, n, 0), std::invalid_argument);
}
