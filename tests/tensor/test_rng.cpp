// Tests for the counter-based RNG: reproducibility, independence from the thread
// count, agreement between scalar and tensor draws, and statistical sanity checks
// whose bounds are derived from the sampling distribution (5 standard errors, so a
// correct generator fails with probability < 1e-6; seeds are fixed, so no flakiness).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.data_f32(), b.data_f32(), a.numel() * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("same seed gives the same bits, different seeds differ", "[rng]") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    CHECK(x == b.next_u64());
    CHECK(x != c.next_u64());
  }
  CHECK(a.counter() == 100);
  CHECK(same_bits(Rng(5).normal({3, 4}), Rng(5).normal({3, 4})));
  CHECK_FALSE(same_bits(Rng(5).normal({3, 4}), Rng(6).normal({3, 4})));
  CHECK(hash64(1, 2) == hash64(1, 2));
  CHECK(hash64(1, 2) != hash64(2, 1));
}

TEST_CASE("counter: resume a stream and match scalar draws", "[rng]") {
  Rng r(9);
  const Tensor n = r.normal({5}, 0.0, 1.0, DType::F64);
  CHECK(r.counter() == 10);  // two draws per normal
  const Tensor u = r.uniform({4}, 0.0, 1.0, DType::F64);
  CHECK(r.counter() == 14);
  Rng s(9);
  for (int64_t i = 0; i < 5; ++i) CHECK(n.at({i}) == s.normal());
  for (int64_t i = 0; i < 4; ++i) CHECK(u.at({i}) == s.uniform());
  // set_counter resumes: element i of a tensor drawn at counter c uses c + 2i, c + 2i + 1.
  Rng t(9);
  t.set_counter(4);
  CHECK(t.normal({1}, 0.0, 1.0, DType::F64).item() == n.at({2}));
  // mean/std are an affine map of the standard draws.
  Rng m(9);
  const Tensor scaled = m.normal({5}, 3.0, 0.5, DType::F64);
  for (int64_t i = 0; i < 5; ++i) CHECK(scaled.at({i}) == 3.0 + 0.5 * n.at({i}));
}

TEST_CASE("parallel fill equals serial at 1, 2, 3 threads", "[rng][threads]") {
  const int before = num_threads();
  set_num_threads(1);
  Rng r1(77);
  const Tensor n1 = r1.normal({250, 200});  // 50000 > the parallel threshold
  const Tensor u1 = r1.uniform({250, 200}, -1.0, 1.0);
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    Rng r(77);
    CHECK(same_bits(r.normal({250, 200}), n1));
    CHECK(same_bits(r.uniform({250, 200}, -1.0, 1.0), u1));
    CHECK(r.counter() == r1.counter());
  }
  set_num_threads(before);
}

TEST_CASE("normal: mean and std of 100k samples", "[rng][stats]") {
  const int64_t n = 100000;
  const std::vector<double> v = Rng(2024).normal({n}, 0.0, 1.0, DType::F64).to_vector();
  double s = 0, s2 = 0;
  for (double x : v) s += x;
  const double mean = s / n;
  for (double x : v) s2 += (x - mean) * (x - mean);
  const double sd = std::sqrt(s2 / (n - 1));
  // Standard error of the mean: 1/sqrt(n) = 0.00316; of the std: 1/sqrt(2n) = 0.00224.
  CHECK(std::fabs(mean) < 5 * 0.00316);
  CHECK(std::fabs(sd - 1.0) < 5 * 0.00224);
  // The fraction within one std is 0.6827 with standard error sqrt(p(1-p)/n) = 0.00147.
  int64_t within = 0;
  for (double x : v) within += std::fabs(x) < 1.0;
  CHECK(std::fabs(static_cast<double>(within) / n - 0.682689) < 5 * 0.00147);
}

TEST_CASE("uniform: range, mean, and f32 never reaching high", "[rng][stats]") {
  const int64_t n = 100000;
  const Tensor t = Rng(1).uniform({n}, -2.0, 3.0);
  const std::vector<double> v = t.to_vector();
  double s = 0;
  for (double x : v) {
    REQUIRE(x >= -2.0);
    REQUIRE(x < 3.0);
    s += x;
  }
  // U[-2,3): mean 0.5, std 5/sqrt(12) = 1.443, standard error 1.443/sqrt(n) = 0.00456.
  CHECK(std::fabs(s / n - 0.5) < 5 * 0.00456);
  // In [1 - 1e-6, 1) about 1 value in 33 lies within half an f32 ulp (3e-8) of 1 and
  // would round up to 1.0f: they must come out as the largest float below 1 instead.
  int64_t at_top = 0;
  for (double x : Rng(3).uniform({1000}, 1.0 - 1e-6, 1.0).to_vector()) {
    REQUIRE(x < 1.0);
    at_top += x == static_cast<double>(std::nextafter(1.0f, 0.0f));
  }
  CHECK(at_top > 0);
  CHECK_THROWS_AS(Rng(1).uniform({2}, 1.0, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(Rng(1).normal({2}, 0.0, 1.0, DType::I64), std::invalid_argument);
}

TEST_CASE("next_u64 bits are balanced and adjacent seeds are uncorrelated", "[rng][stats]") {
  const int n = 20000;
  Rng r(0);
  std::vector<int> ones(64, 0);
  for (int i = 0; i < n; ++i) {
    const uint64_t x = r.next_u64();
    for (int b = 0; b < 64; ++b) ones[b] += (x >> b) & 1;
  }
  // Each bit is Bernoulli(1/2): standard error of its frequency is 0.5/sqrt(n) = 0.0035.
  for (int b = 0; b < 64; ++b) CHECK(std::fabs(ones[b] / double(n) - 0.5) < 5 * 0.0035);
  // Correlation of U(0,1) streams from seeds 0 and 1: standard error 1/sqrt(n) = 0.0071.
  Rng a(0), c(1);
  double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < n; ++i) {
    const double x = a.uniform(), y = c.uniform();
    sxy += x * y, sx += x, sy += y, sxx += x * x, syy += y * y;
  }
  const double cov = sxy / n - sx / n * sy / n;
  const double corr = cov / std::sqrt((sxx / n - sx * sx / n / n) * (syy / n - sy * sy / n / n));
  CHECK(std::fabs(corr) < 5 * 0.0071);
}

TEST_CASE("below(n): in range, unbiased counts, rejects n = 0", "[rng][stats]") {
  Rng r(8);
  const int draws = 60000;
  std::vector<int> counts(6, 0);
  for (int i = 0; i < draws; ++i) {
    const uint64_t k = r.below(6);
    REQUIRE(k < 6);
    ++counts[k];
  }
  // Pearson chi-square with 5 degrees of freedom: P(chi2 > 30) is about 1.5e-5.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  CHECK(chi2 < 30.0);
  CHECK(r.below(1) == 0);
  // n = 2^63 + 1 rejects almost half of all draws: still terminates, still in range.
  const uint64_t big = (uint64_t{1} << 63) + 1;
  for (int i = 0; i < 100; ++i) REQUIRE(r.below(big) < big);
  CHECK_THROWS_AS(r.below(0), std::invalid_argument);
}
