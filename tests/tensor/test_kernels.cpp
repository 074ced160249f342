// The primitives of tensor/kernels.h against plain references: exp_f32 vs
// std::exp, GELU and its derivative vs the tanh formula and finite
// differences, the lane reductions vs double sums and vs the documented fold
// order, row softmax (and its backward) vs double, vecmat vs naive loops.
// eps below is the float unit roundoff 2^-24; gamma_n(k) = k eps / (1 - k eps)
// is the standard bound on k roundings in a row.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/rng.h"

using namespace cpurich;
using namespace cpurich::kernels;

namespace {

const double kEps = std::ldexp(1.0, -24);

double gamma_n(double k) {
  return k * kEps / (1.0 - k * kEps);
}

std::vector<float> random_vector(int64_t n, uint64_t seed, double std = 1.0) {
  const Tensor t = Rng(seed).normal({n}, 0.0, std);
  return {t.span_f32().begin(), t.span_f32().end()};
}

std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// Roundings any one term sees in a lane sum of n terms: n/16 in its lane
// plus 4 in the fold.
double lane_depth(int64_t n) {
  return static_cast<double>((n + kLanes - 1) / kLanes) + 4.0;
}

const int64_t kSizes[] = {1, 2, 15, 16, 17, 31, 33, 100, 257, 1000};

}  // namespace

// ---- exp ----------------------------------------------------------------------------

TEST_CASE("exp_f32 is within 2e-7 relative of exp over its range", "[kernels]") {
  // float rounds with relative error up to 6e-8 (half an ulp); the polynomial
  // and range reduction add about one more ulp: 2e-7 is about 3 ulps.
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 0.0037) {
    const float xf = static_cast<float>(x);
    const double ref = std::exp(static_cast<double>(xf));
    worst = std::max(worst, std::fabs(static_cast<double>(exp_f32(xf)) - ref) / ref);
  }
  INFO("max relative error " << worst);
  CHECK(worst < 2e-7);
  CHECK(exp_f32(0.0f) == 1.0f);
  CHECK(exp_t(0.5) == std::exp(0.5));  // double is the reference path
}

TEST_CASE("exp_f32 saturates instead of overflowing and flushes to 0 below -87", "[kernels]") {
  const float big = exp_f32(1000.0f);
  CHECK(std::isfinite(big));
  CHECK(big > 1e38f);
  CHECK(exp_f32(-87.0f) > 0.0f);
  CHECK(exp_f32(-87.5f) == 0.0f);
  CHECK(exp_f32(-1000.0f) == 0.0f);
  CHECK(exp_f32(-INFINITY) == 0.0f);
  CHECK(std::isnan(exp_f32(NAN)));
}

// ---- GELU ----------------------------------------------------------------------------

TEST_CASE("gelu_tanh matches 0.5 x (1 + tanh u)", "[kernels]") {
  // double: the sigmoid form and the tanh form agree to a few roundings of
  // the result, plus the cancellation of 1 + tanh u for very negative u
  // (absolute, about eps_64 |x|).
  const double eps64 = std::ldexp(1.0, -53);
  for (int k = -8 * 64; k <= 8 * 64; ++k) {
    const double x = k / 64.0, u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    const double ref = 0.5 * x * (1.0 + std::tanh(u));
    CHECK(std::fabs(gelu_tanh(x) - ref) <= 16.0 * eps64 * (std::fabs(ref) + std::fabs(x)));
  }
  // float vs the double sigmoid form. Error budget: exp_f32 (< 2e-7 ~ 3.4
  // eps relative), 1 + e and the division (1 eps each), and the rounding of
  // u, which e^{-2u} turns into ~2|u| * (a few eps) relative. Hence
  // |y - ref| <= 8 (1 + |u|) eps |ref|.
  for (int k = -8 * 256; k <= 8 * 256; ++k) {
    const float x = static_cast<float>(k) / 256.0f;
    const double xd = x, u = 0.7978845608028654 * (xd + 0.044715 * xd * xd * xd);
    const double ref = xd / (1.0 + std::exp(-2.0 * u));
    CHECK(std::fabs(gelu_tanh(x) - ref) <= 8.0 * (1.0 + std::fabs(u)) * kEps * std::fabs(ref));
  }
  CHECK(gelu_tanh(0.0f) == 0.0f);
  CHECK(std::isnan(gelu_tanh(NAN)));
}

TEST_CASE("gelu_tanh_grad matches central finite differences", "[kernels]") {
  // double: (f(x+h) - f(x-h)) / 2h has truncation error h^2 |f'''| / 6
  // (|f'''| < 2 on this range) and rounding error ~ eps_64 |f| / h.
  const double h = 1e-5;
  for (int k = -6 * 32; k <= 6 * 32; ++k) {
    const double x = k / 32.0;
    const double fd = (gelu_tanh(x + h) - gelu_tanh(x - h)) / (2.0 * h);
    CHECK(std::fabs(gelu_tanh_grad(x) - fd) <= 1e-9 * (1.0 + std::fabs(x)));
  }
  // float vs double: s and 2 x s (1 - s) du each carry the error of s
  // (as in gelu_tanh: 8 (1 + |u|) eps relative) plus a few roundings.
  for (int k = -8 * 64; k <= 8 * 64; ++k) {
    const float x = static_cast<float>(k) / 64.0f;
    const double xd = x, u = 0.7978845608028654 * (xd + 0.044715 * xd * xd * xd);
    const double s = 1.0 / (1.0 + std::exp(-2.0 * u));
    const double du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * xd * xd);
    const double scale = s + std::fabs(2.0 * xd * s * (1.0 - s) * du);
    CHECK(std::fabs(gelu_tanh_grad(x) - gelu_tanh_grad(xd)) <=
          16.0 * (1.0 + std::fabs(u)) * kEps * scale);
  }
}

TEST_CASE("gelu array forms give the scalar formula's bits", "[kernels]") {
  // The SIMD clones must round exactly like the scalar code (no FMA fusion).
  const int64_t n = 1003;
  const auto x = random_vector(n, 11, 3.0), dy = random_vector(n, 12);
  std::vector<float> y(n), dx(n), dx_acc = random_vector(n, 13), before = dx_acc;
  gelu_tanh_forward(x.data(), y.data(), n);
  gelu_tanh_backward(x.data(), dy.data(), dx.data(), n, false);
  gelu_tanh_backward(x.data(), dy.data(), dx_acc.data(), n, true);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i] * gelu_tanh_grad(x[i]);
    bad += y[i] != gelu_tanh(x[i]);
    bad += dx[i] != g;
    bad += dx_acc[i] != before[i] + g;
  }
  CHECK(bad == 0);
}

// ---- lane reductions -----------------------------------------------------------------

TEST_CASE("sum_lanes and dot_lanes are within the lane-sum bound of the exact sum", "[kernels]") {
  for (const int64_t n : kSizes) {
    const auto a = random_vector(n, 21), b = random_vector(n, 22);
    double sum = 0, sum_abs = 0, dot = 0, dot_abs = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += a[i];
      sum_abs += std::fabs(a[i]);
      dot += static_cast<double>(a[i]) * b[i];
      dot_abs += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    INFO("n = " << n);
    CHECK(std::fabs(sum_lanes(a.data(), n) - sum) <= gamma_n(lane_depth(n)) * sum_abs);
    CHECK(std::fabs(dot_lanes(a.data(), b.data(), n) - dot) <=
          gamma_n(lane_depth(n) + 1) * dot_abs);
    // double: same bound with the double roundoff
    const auto ad = to_double(a), bd = to_double(b);
    const double eps64 = std::ldexp(1.0, -53), k = lane_depth(n) + 1;
    CHECK(std::fabs(dot_lanes(ad.data(), bd.data(), n) - dot) <= 2 * k * eps64 * dot_abs);
  }
  CHECK(sum_lanes(static_cast<const float*>(nullptr), 0) == 0.0f);
}

TEST_CASE("sum_lanes adds in the documented order: lanes j mod 16, then 8-4-2-1", "[kernels]") {
  for (const int64_t n : kSizes) {
    const auto a = random_vector(n, 31, 100.0);
    float lane[16] = {};
    for (int64_t j = 0; j < n; ++j) lane[j % 16] += a[j];
    for (int w : {8, 4, 2, 1})
      for (int l = 0; l < w; ++l) lane[l] += lane[l + w];
    INFO("n = " << n);
    CHECK(sum_lanes(a.data(), n) == lane[0]);
  }
}

TEST_CASE("max_lanes is the exact maximum", "[kernels]") {
  for (const int64_t n : kSizes) {
    const auto a = random_vector(n, 41);
    CHECK(max_lanes(a.data(), n) == *std::max_element(a.begin(), a.end()));
  }
  CHECK(max_lanes(static_cast<const float*>(nullptr), 0) == -INFINITY);
}

// ---- softmax -------------------------------------------------------------------------

TEST_CASE("softmax_row sums to 1 and matches a double reference", "[kernels]") {
  for (const int64_t n : kSizes) {
    for (const double spread : {1.0, 30.0}) {
      auto x = random_vector(n, 51, spread);
      for (float& v : x) v += 1000.0f;  // large logits: e^x alone would overflow
      std::vector<float> y(n);
      const SoftmaxStats<float> st = softmax_row(x.data(), y.data(), n);
      const double m = *std::max_element(x.begin(), x.end());
      double total = 0;
      for (int64_t j = 0; j < n; ++j) total += std::exp(x[j] - m);
      CHECK(st.max == static_cast<float>(m));
      CHECK(std::fabs(st.sum - total) <= (2e-7 + gamma_n(lane_depth(n))) * total);
      // Each p_j: exp_f32 (2e-7, twice: numerator and, weighted, the sum),
      // the sum's lane rounding and the product by 1/sum. x_j - m is exact
      // here (Sterbenz: both are within a factor 2 of 1000). Absolute: exp_f32
      // gives 0 below -87, and p_j below the smallest normal float (2^-126)
      // keeps fewer bits; both stay under e^-87.
      double sum_y = 0, budget = 0;
      int bad = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double ref = std::exp(x[j] - m) / total;
        const double bound = (4e-7 + gamma_n(lane_depth(n) + 3)) * ref + std::exp(-87.0);
        bad += !(std::fabs(y[j] - ref) <= bound);
        sum_y += y[j];
        budget += bound;
      }
      INFO("n = " << n << " spread " << spread);
      CHECK(bad == 0);
      CHECK(std::fabs(sum_y - 1.0) <= budget + n * std::ldexp(1.0, -53));
    }
  }
}

TEST_CASE("softmax_row of one dominant logit or masked logits is exactly one-hot", "[kernels]") {
  std::vector<float> x = random_vector(40, 52), y(40);
  x[7] = 1000.0f;
  x[9] = -INFINITY;  // a masked position
  softmax_row(x.data(), y.data(), 40);
  CHECK(y[7] == 1.0f);
  int nonzero = 0;
  for (int64_t j = 0; j < 40; ++j) nonzero += j != 7 && y[j] != 0.0f;
  CHECK(nonzero == 0);
}

TEST_CASE("softmax_row works in place and in double", "[kernels]") {
  const int64_t n = 37;
  const auto x = random_vector(n, 61, 5.0);
  std::vector<float> y(n), inplace = x;
  softmax_row(x.data(), y.data(), n);
  softmax_row(inplace.data(), inplace.data(), n);
  CHECK(inplace == y);
  const auto xd = to_double(x);
  std::vector<double> yd(n);
  softmax_row(xd.data(), yd.data(), n);
  const double m = *std::max_element(xd.begin(), xd.end());
  double total = 0;
  for (double v : xd) total += std::exp(v - m);
  for (int64_t j = 0; j < n; ++j) CHECK(std::fabs(yd[j] - std::exp(xd[j] - m) / total) <= 1e-15);
}

TEST_CASE("softmax_row_backward matches finite differences", "[kernels]") {
  // L(x) = sum_j dy_j softmax(x)_j; dL/dx_k by central differences in double.
  const int64_t n = 19;
  const auto x = to_double(random_vector(n, 71, 2.0)), dy = to_double(random_vector(n, 72));
  auto loss = [&](const std::vector<double>& v) {
    std::vector<double> p(n);
    softmax_row(v.data(), p.data(), n);
    double l = 0;
    for (int64_t j = 0; j < n; ++j) l += dy[j] * p[j];
    return l;
  };
  std::vector<double> y(n), dx(n, 0.25);
  softmax_row(x.data(), y.data(), n);
  const double scale = 0.5;
  softmax_row_backward(y.data(), dy.data(), dx.data(), n, scale, true);  // dx = 0.25 + 0.5 g
  const double h = 1e-6;
  for (int64_t k = 0; k < n; ++k) {
    auto xp = x, xm = x;
    xp[k] += h;
    xm[k] -= h;
    const double fd = (loss(xp) - loss(xm)) / (2 * h);
    CHECK(std::fabs(dx[k] - (0.25 + scale * fd)) <= 1e-8);
  }
  // float, in place (dx == dy), against the double result
  const std::vector<float> yf(y.begin(), y.end());
  std::vector<float> g(dy.begin(), dy.end());
  softmax_row_backward(yf.data(), g.data(), g.data(), n, 1.0f, false);
  for (int64_t k = 0; k < n; ++k) CHECK(std::fabs(g[k] - (dx[k] - 0.25) / scale) <= 1e-6);
}

// ---- vector x matrix ------------------------------------------------------------------

TEST_CASE("vecmat equals the naive loop and vecmat_t the lane dot products", "[kernels]") {
  for (const int64_t k : {1, 17, 64, 100}) {
    for (const int64_t n : {1, 7, 65}) {
      const int64_t ldw = n + 3, ldt = k + 5;  // row strides wider than the rows
      const auto x = random_vector(k, 81), w = random_vector(k * ldw, 82);
      const auto wt = random_vector(n * ldt, 83);
      std::vector<float> y(n), yt(n);
      vecmat(x.data(), w.data(), ldw, k, n, y.data());
      vecmat_t(x.data(), wt.data(), ldt, k, n, yt.data());
      int bad = 0;
      for (int64_t j = 0; j < n; ++j) {
        // vecmat: y_j = sum_p x_p W(p, j) in order p = 0..k-1: the naive loop's bits.
        float naive = 0.0f;
        double exact = 0, mass = 0;
        for (int64_t p = 0; p < k; ++p) {
          naive += x[p] * w[p * ldw + j];
          exact += static_cast<double>(x[p]) * w[p * ldw + j];
          mass += std::fabs(static_cast<double>(x[p]) * w[p * ldw + j]);
        }
        bad += y[j] != naive;
        bad += !(std::fabs(y[j] - exact) <= gamma_n(static_cast<double>(k)) * mass);
        // vecmat_t: row j of wt dotted with x in the lane order.
        bad += yt[j] != dot_lanes(x.data(), wt.data() + j * ldt, k);
        double exact_t = 0, mass_t = 0;
        for (int64_t p = 0; p < k; ++p) {
          exact_t += static_cast<double>(x[p]) * wt[j * ldt + p];
          mass_t += std::fabs(static_cast<double>(x[p]) * wt[j * ldt + p]);
        }
        bad += !(std::fabs(yt[j] - exact_t) <= gamma_n(lane_depth(k) + 1) * mass_t);
      }
      INFO("k = " << k << " n = " << n);
      CHECK(bad == 0);
    }
  }
}
