// test_matmul_nf4.cpp: the panel-tiled NF4 GEMMs (tensor/matmul_nf4.h) against
// their naive references (decode all of W, f64 dot products).
//
// Bound: the references round an f64 sum once, so |tiled - ref| is the f32
// GEMM's own rounding. For a K-term dot product in f32 that is at most
// gamma_K * sum_c |x_c w_c| with gamma_K = K u / (1 - K u), u = 2^-24
// (Higham, Accuracy and Stability, 3.1), plus u |ref| for the reference's own
// rounding to f32 and, with beta = 1, u |prev| for the addition of y's old
// value. The test asserts each element against that bound.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/matmul_nf4.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

std::vector<float> randn(int64_t n, float std, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, std);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(gen);
  return v;
}

double gamma(int64_t k) {
  const double u = std::ldexp(1.0, -24);
  return static_cast<double>(k) * u / (1.0 - static_cast<double>(k) * u);
}

// out = 300 rows: two full panels of 128 and a partial one of 44.
constexpr int64_t kOut = 300, kIn = 192, kN = 37;

}  // namespace

TEST_CASE("nf4 x W^T: tiled vs naive within the f32 dot-product bound", "[nf4][matmul]") {
  const std::vector<float> w = randn(kOut * kIn, 0.05f, 1);
  const QuantMatrix q = quantize_matrix(QuantFormat::NF4, w, kOut, kIn);
  std::vector<float> wd(w.size());
  dequantize_matrix(q, wd);
  const std::vector<float> x = randn(kN * kIn, 1.0f, 2);
  for (float beta : {0.0f, 1.0f}) {
    const std::vector<float> prev = randn(kN * kOut, 1.0f, 3);
    std::vector<float> ref = prev, got = prev;
    nf4_matmul_xwt_naive(q, x.data(), kN, beta, ref.data());
    nf4_matmul_xwt(q, x.data(), kN, beta, got.data());
    const double u = std::ldexp(1.0, -24);
    int64_t bad = 0;
    for (int64_t i = 0; i < kN; ++i)
      for (int64_t o = 0; o < kOut; ++o) {
        double mag = 0.0;
        for (int64_t c = 0; c < kIn; ++c) mag += std::fabs(x[i * kIn + c] * wd[o * kIn + c]);
        const double p = beta * std::fabs(prev[i * kOut + o]);
        const double bound = gamma(kIn + 1) * (mag + p) + 2 * u * std::fabs(ref[i * kOut + o]);
        bad += std::fabs(got[i * kOut + o] - ref[i * kOut + o]) > bound;
      }
    CHECK(bad == 0);
  }
}

TEST_CASE("nf4 dy W: tiled vs naive within the f32 dot-product bound", "[nf4][matmul]") {
  const std::vector<float> w = randn(kOut * kIn, 0.05f, 4);
  const QuantMatrix q = quantize_matrix(QuantFormat::NF4, w, kOut, kIn);
  std::vector<float> wd(w.size());
  dequantize_matrix(q, wd);
  const std::vector<float> dy = randn(kN * kOut, 1.0f, 5);
  for (float beta : {0.0f, 1.0f}) {
    const std::vector<float> prev = randn(kN * kIn, 1.0f, 6);
    std::vector<float> ref = prev, got = prev;
    nf4_matmul_dyw_naive(q, dy.data(), kN, beta, ref.data());
    nf4_matmul_dyw(q, dy.data(), kN, beta, got.data());
    const double u = std::ldexp(1.0, -24);
    int64_t bad = 0;
    for (int64_t i = 0; i < kN; ++i)
      for (int64_t c = 0; c < kIn; ++c) {
        double mag = 0.0;
        for (int64_t o = 0; o < kOut; ++o) mag += std::fabs(dy[i * kOut + o] * wd[o * kIn + c]);
        const double p = beta * std::fabs(prev[i * kIn + c]);
        const double bound = gamma(kOut + 1) * (mag + p) + 2 * u * std::fabs(ref[i * kIn + c]);
        bad += std::fabs(got[i * kIn + c] - ref[i * kIn + c]) > bound;
      }
    CHECK(bad == 0);
  }
}

TEST_CASE("nf4 GEMMs: bit-identical across thread counts, weight bytes untouched",
          "[nf4][matmul][threads]") {
  const int64_t out = 512, in = 384,
                n = 200;  // big enough for the GEMM and the decode to go parallel
  const std::vector<float> w = randn(out * in, 0.05f, 7);
  const QuantMatrix q = quantize_matrix(QuantFormat::NF4, w, out, in);
  const std::vector<uint8_t> bytes = q.data;
  const std::vector<float> x = randn(n * in, 1.0f, 8), dy = randn(n * out, 1.0f, 9);
  const int saved = num_threads();
  std::vector<std::vector<float>> ys, dxs;
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    std::vector<float> y(static_cast<size_t>(n * out)), dx(static_cast<size_t>(n * in));
    nf4_matmul_xwt(q, x.data(), n, 0.0f, y.data());
    nf4_matmul_dyw(q, dy.data(), n, 0.0f, dx.data());
    ys.push_back(std::move(y));
    dxs.push_back(std::move(dx));
  }
  set_num_threads(saved);
  for (size_t i = 1; i < ys.size(); ++i) {
    CHECK(std::memcmp(ys[0].data(), ys[i].data(), ys[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(dxs[0].data(), dxs[i].data(), dxs[0].size() * sizeof(float)) == 0);
  }
  CHECK(q.data == bytes);
}

TEST_CASE("nf4 GEMMs refuse a weight that is not NF4", "[nf4][matmul]") {
  const std::vector<float> w = randn(4 * 64, 0.05f, 10);
  const QuantMatrix q = quantize_matrix(QuantFormat::Q8_0, w, 4, 64);
  std::vector<float> x(64), y(4);
  CHECK_THROWS_AS(nf4_matmul_xwt(q, x.data(), 1, 0.0f, y.data()), std::invalid_argument);
}
