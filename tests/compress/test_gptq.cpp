// test_gptq.cpp: the Hessian machinery (Cholesky, damping, dead columns),
// the block codec against ggml's quantizers, and GPTQ against plain rounding.
#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "compress/block_codec.h"
#include "compress/gptq.h"
#include "compress/hessian.h"
#include "compress_test_util.h"

using namespace cpurich;
using namespace cpurich::compress;
using cpurich::test::correlated_inputs;
using cpurich::test::dequantized;
using cpurich::test::hessian_of;
using cpurich::test::output_error;
using cpurich::test::random_matrix;

TEST_CASE("cholesky_lower factors a known matrix and rejects an indefinite one") {
  // [[4, 2], [2, 10]] = L L^T with L = [[2, 0], [1, 3]].
  std::vector<double> a = {4, 2, 2, 10};
  REQUIRE(cholesky_lower(a, 2));
  CHECK(a == std::vector<double>{2, 0, 1, 3});
  std::vector<double> b = {1, 2, 2, 1};  // eigenvalues 3 and -1
  CHECK_FALSE(cholesky_lower(b, 2));
  std::vector<double> z = {0, 0, 0, 0};
  CHECK_FALSE(cholesky_lower(z, 2));
}

TEST_CASE("inverse_cholesky_upper: U^T U = (H + lambda I)^-1, dead columns, damping needed") {
  const int64_t n = 6, samples = 40;
  const auto x = correlated_inputs(samples, n, 3);
  const auto h = hessian_of(x, samples, n);
  const double damp = 0.01;
  const auto u = inverse_cholesky_upper(h, n, damp);
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += h[i * n + i] / n;
  // (H + lambda I) (U^T U) = I
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        double uu = 0.0;
        for (int64_t t = 0; t < n; ++t) uu += u[t * n + k] * u[t * n + j];
        s += (h[i * n + k] + (i == k ? damp * mean : 0.0)) * uu;
      }
      CHECK(s == Approx(i == j ? 1.0 : 0.0).margin(1e-10));
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) CHECK(u[i * n + j] == 0.0);  // upper

  // Fewer samples than inputs: H is singular; only damping makes it factor.
  const int64_t wide = 8;
  const auto xs = random_matrix(3, wide, 5);
  const auto hs = hessian_of(xs, 3, wide);
  CHECK_THROWS_AS(inverse_cholesky_upper(hs, wide, 0.0), std::runtime_error);
  CHECK_NOTHROW(inverse_cholesky_upper(hs, wide, 0.01));
  CHECK_THROWS_AS(inverse_cholesky_upper(hs, wide, -1.0), std::invalid_argument);

  // A column no input ever reached (all zeros) is dead and gets H[i,i] = 1.
  auto hd = h;
  for (int64_t k = 0; k < n; ++k) hd[2 * n + k] = hd[k * n + 2] = 0.0;
  CHECK(dead_columns(hd, n) == std::vector<uint8_t>{0, 0, 1, 0, 0, 0});
  CHECK_NOTHROW(inverse_cholesky_upper(hd, n, 0.0));
}

TEST_CASE("block codec: scale, code and pack reproduce ggml's q4_0 / q4_1 bytes") {
  const auto wd = random_matrix(8, 64, 11, 0.05);
  const std::vector<float> w(wd.begin(), wd.end());
  for (QuantFormat f : {QuantFormat::Q4_0, QuantFormat::Q4_1}) {
    const QuantMatrix ref = quantize_matrix(f, w, 8, 64);
    std::vector<uint8_t> mine(ref.data.size());
    const int64_t bb = quant_format_info(f).block_bytes;
    for (int64_t b = 0; b < 16; ++b) {
      const float* v = w.data() + b * 32;
      const BlockScale s = q4_block_scale(f, v);
      uint8_t codes[32];
      for (int j = 0; j < 32; ++j) codes[j] = q4_code(f, s, v[j]);
      pack_q4_block(f, s, codes, mine.data() + b * bb);
    }
    CHECK(mine == ref.data);
  }
  CHECK_THROWS_WITH(require_q4(QuantFormat::NF4, "gptq"), Catch::Contains("q4_0 or q4_1"));
}

TEST_CASE("GPTQ with an identity Hessian is exactly round-to-nearest") {
  const int64_t out = 6, in = 96;
  const auto w = random_matrix(out, in, 21, 0.05);
  std::vector<double> h(static_cast<size_t>(in * in), 0.0);
  for (int64_t i = 0; i < in; ++i) h[i * in + i] = 2.0;
  const std::vector<float> wf(w.begin(), w.end());
  for (QuantFormat f : {QuantFormat::Q4_0, QuantFormat::Q4_1}) {
    const QuantMatrix q = gptq_quantize(w, out, in, h, {.format = f, .block_size = 64});
    CHECK(q.data == quantize_matrix(f, wf, out, in).data);
  }
}

TEST_CASE("GPTQ beats round-to-nearest on correlated calibration inputs") {
  const int64_t out = 24, in = 128, n = 512;
  const auto w = random_matrix(out, in, 31, 0.05);
  const auto x = correlated_inputs(n, in, 32, {5, 77}, 6.0);
  const auto h = hessian_of(x, n, in);
  const std::vector<float> wf(w.begin(), w.end());
  for (QuantFormat f : {QuantFormat::Q4_0, QuantFormat::Q4_1}) {
    const double rtn = output_error(w, dequantized(quantize_matrix(f, wf, out, in)), out, in, x, n);
    for (bool act : {false, true}) {
      const GptqOptions o{.format = f, .block_size = 64, .act_order = act};
      const double gptq =
          output_error(w, dequantized(gptq_quantize(w, out, in, h, o)), out, in, x, n);
      INFO(quant_format_info(f).name << " act_order " << act << ": rtn " << rtn << " gptq "
                                     << gptq);
      CHECK(gptq < 0.8 * rtn);
    }
  }
}

TEST_CASE("GPTQ: lazy-batch size does not change the result much, bad options throw") {
  const int64_t out = 4, in = 128, n = 200;
  const auto w = random_matrix(out, in, 41, 0.05);
  const auto x = correlated_inputs(n, in, 42);
  const auto h = hessian_of(x, n, in);
  // Lazy batching only reorders the same updates: the codes must agree
  // except where f64 rounding tips a tie, i.e. almost everywhere.
  const auto a = dequantized(gptq_quantize(w, out, in, h, {.block_size = 32}));
  const auto b = dequantized(gptq_quantize(w, out, in, h, {.block_size = 128}));
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
  CHECK(same >= static_cast<int64_t>(a.size()) - 2);
  CHECK_THROWS_AS(gptq_quantize(w, out, in, h, {.block_size = 48}), std::invalid_argument);
  CHECK_THROWS_AS(gptq_quantize(w, out, in, h, {.format = QuantFormat::Q8_0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(gptq_quantize(w, out, 100, h), std::invalid_argument);
  // A dead input column quantizes to exact zeros.
  auto hd = h;
  for (int64_t k = 0; k < in; ++k) hd[7 * in + k] = hd[k * in + 7] = 0.0;
  const auto d = dequantized(gptq_quantize(w, out, in, hd));
  for (int64_t r = 0; r < out; ++r) CHECK(d[r * in + 7] == 0.0);
}
