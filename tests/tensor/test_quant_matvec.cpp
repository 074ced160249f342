// test_quant_matvec.cpp: the kernels of tensor/quant_matvec.h against the
// dequantize-then-f32 reference, on every ISA path this CPU can run.
//
// The bound, per output y[t, r] = sum_c w_c x_c (w the dequantized weights):
//   activation rounding (integer formats only): the kernel multiplies w by
//     x' = d_x qx with |x_c - x'_c| <= d_x / 2 (d_x = max|x| / 127 of c's
//     block), so it can move y by at most  A = sum_b d_x[b] / 2 * sum_{c in b} |w_c|;
//   float rounding: both sides are sums of cols products, each product and
//     partial sum rounded (and q4_1's w = d q + m rounded once more), so each
//     is within gamma_n * M of the exact value, where u = 2^-24,
//     gamma_n = n u / (1 - n u), n = cols + 16 (the block scales, the lane
//     folds) and M = sum_c (|w_c| + |m_c|) (|x_c| + d_x / 2), m_c = q4_1's
//     block offset (0 otherwise): the fast and the naive sum differ by at most
//     2 gamma_n M.
// So |fast - naive| <= A + 2 gamma_n M; nf4 and odd-length int8 rows do not
// round the activations (A = 0).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/half.h"
#include "tensor/parallel.h"
#include "tensor/quant_matvec.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

std::vector<float> random_values(int64_t n, float scale, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = normal(gen);
  // A few outliers, as real activations and weights have.
  for (int64_t i = 0; i < n; i += 37) v[static_cast<size_t>(i)] *= 8.0f;
  return v;
}

std::vector<QuantPath> available_paths() {
  std::vector<QuantPath> paths;
  for (QuantPath p : {QuantPath::Portable, QuantPath::Avx2, QuantPath::Avx512Vnni})
    if (quant_path_supported(p)) paths.push_back(p);
  return paths;
}

// The stated bound for y[t, r] (see the top of the file).
double bound(const QuantMatrix& q, const std::vector<float>& wd, const float* x, int64_t r) {
  const int64_t C = q.cols;
  const bool rounds_x = q.format != QuantFormat::NF4 && C % kQBlock == 0;
  double A = 0.0, M = 0.0;
  for (int64_t b0 = 0; b0 < C; b0 += kQBlock) {
    const int64_t b1 = std::min(C, b0 + kQBlock);
    double amax = 0.0;
    for (int64_t c = b0; c < b1; ++c) amax = std::max(amax, std::fabs(double{x[c]}));
    const double dx = rounds_x ? amax / 127.0 : 0.0;
    double m = 0.0;
    if (q.format == QuantFormat::Q4_1) {
      uint16_t h = 0;
      std::memcpy(&h, q.row(r) + (b0 / kQBlock) * 20 + 2, 2);
      m = std::fabs(double{f16_to_f32(h)});
    }
    for (int64_t c = b0; c < b1; ++c) {
      const double w = std::fabs(double{wd[static_cast<size_t>(r * C + c)]});
      A += dx / 2.0 * w;
      M += (w + m) * (std::fabs(double{x[c]}) + dx / 2.0);
    }
  }
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(C + 16);
  return A + 2.0 * (n * u / (1.0 - n * u)) * M;
}

struct Case {
  QuantFormat format;
  int64_t rows, cols;
};

void check_case(const Case& cs, int64_t T) {
  const auto w = random_values(cs.rows * cs.cols, 0.02f, 7);
  const auto x = random_values(T * cs.cols, 1.0f, 11);
  const QuantMatrix q = quantize_matrix(cs.format, w, cs.rows, cs.cols);
  std::vector<float> wd(w.size());
  dequantize_matrix(q, wd);
  std::vector<float> ref(static_cast<size_t>(T * cs.rows));
  quant_matmul_naive(q, x.data(), cs.cols, T, ref.data(), cs.rows);
  QuantActivations a;
  quant_activations_resize(cs.format, T, cs.cols, a);
  quantize_activations(x.data(), cs.cols, 0, T, a);
  std::vector<float> first;
  for (const QuantPath path : available_paths()) {
    INFO("path " << quant_path_name(path));
    std::vector<float> y(ref.size(), -1.0f);
    quant_matmul_rows(q, a, y.data(), cs.rows, 0, cs.rows, path);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < cs.rows; ++r) {
        const size_t i = static_cast<size_t>(t * cs.rows + r);
        const double b = bound(q, wd, x.data() + t * cs.cols, r);
        INFO("t " << t << " r " << r << " fast " << y[i] << " ref " << ref[i] << " bound " << b);
        REQUIRE(std::fabs(double{y[i]} - double{ref[i]}) <= b);
      }
    // All paths compute the same lanes in the same order: the same bits.
    if (first.empty())
      first = y;
    else
      REQUIRE(std::memcmp(first.data(), y.data(), y.size() * 4) == 0);
  }
}

const Case kCases[] = {
    {.format = QuantFormat::Int8, .rows = 37, .cols = 96},
    {.format = QuantFormat::Int8, .rows = 13, .cols = 50},  // rows of odd length: f32 path
    {.format = QuantFormat::Q8_0, .rows = 37, .cols = 96},  // 3 blocks: odd count
    {.format = QuantFormat::Q4_0, .rows = 37, .cols = 96},
    {.format = QuantFormat::Q4_1, .rows = 37, .cols = 96},
    // An even number of blocks (no lone last block in the 512-bit path).
    {.format = QuantFormat::Q4_0, .rows = 9, .cols = 256},
    {.format = QuantFormat::Q8_0, .rows = 9, .cols = 256},
    {.format = QuantFormat::NF4, .rows = 37, .cols = 128},
};

}  // namespace

TEST_CASE("quant kernels match dequantize-then-f32 within the stated bound, every path") {
  INFO("best path " << quant_path_name(quant_best_path()));
  for (const Case& cs : kCases) {
    INFO("format " << quant_format_info(cs.format).name << " cols " << cs.cols);
    for (const int64_t T : {1, 3, 5, 8}) check_case(cs, T);
  }
}

TEST_CASE("quant kernels: decode equals prefill rows, any row split, any thread count") {
  for (const Case& cs : kCases) {
    INFO("format " << quant_format_info(cs.format).name);
    const int64_t T = 7;
    const auto w = random_values(cs.rows * cs.cols, 0.02f, 3);
    const auto x = random_values(T * cs.cols, 1.0f, 5);
    const QuantMatrix q = quantize_matrix(cs.format, w, cs.rows, cs.cols);
    QuantActivations a;
    quant_activations_resize(cs.format, T, cs.cols, a);
    quantize_activations(x.data(), cs.cols, 0, T, a);
    std::vector<float> all(static_cast<size_t>(T * cs.rows));
    quant_matmul_rows(q, a, all.data(), cs.rows, 0, cs.rows);
    // One row of x at a time (a decode step), one output row per call.
    for (int64_t t = 0; t < T; ++t) {
      QuantActivations one;
      quant_activations_resize(cs.format, 1, cs.cols, one);
      quantize_activations(x.data() + t * cs.cols, cs.cols, 0, 1, one);
      std::vector<float> y(static_cast<size_t>(cs.rows));
      for (int64_t r = 0; r < cs.rows; ++r) quant_matmul_rows(q, one, y.data(), cs.rows, r, r + 1);
      REQUIRE(std::memcmp(y.data(), all.data() + t * cs.rows, y.size() * 4) == 0);
    }
    // Split over threads in chunks of 5 rows, on 1 and 2 threads.
    const int saved = num_threads();
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<float> y(all.size());
      parallel_for(0, (cs.rows + 4) / 5, [&](int64_t c) {
        quant_matmul_rows(q, a, y.data(), cs.rows, c * 5, std::min(cs.rows, c * 5 + 5));
      });
      REQUIRE(std::memcmp(y.data(), all.data(), y.size() * 4) == 0);
    }
    set_num_threads(saved);
  }
}

TEST_CASE("quant activations: q8 blocks of 32 with d = max|x|/127 and s = d sum q") {
  std::vector<float> x(64, 0.0f);
  x[0] = -2.54f;
  x[1] = 1.0f;
  x[40] = 0.5f;
  QuantActivations a;
  quant_activations_resize(QuantFormat::Q4_1, 1, 64, a);
  quantize_activations(x.data(), 64, 0, 1, a);
  CHECK(a.d[0] == 2.54f / 127.0f);
  CHECK(a.q[0] == -127);
  CHECK(a.q[1] == static_cast<int8_t>(std::nearbyint(1.0f * (1.0f / a.d[0]))));  // 50.0 -> 50
  CHECK(a.d[1] == 0.5f / 127.0f);
  CHECK(a.q[40] == 127);
  CHECK(a.s[0] == a.d[0] * static_cast<float>(a.q[0] + a.q[1]));
  CHECK(a.s[1] == a.d[1] * 127.0f);
  QuantMatrix wrong = quantize_matrix(QuantFormat::Q8_0, std::vector<float>(64, 1.0f), 1, 64);
  std::vector<float> y(1);
  CHECK_THROWS_AS(quant_matmul_rows(wrong, a, y.data(), 1, 0, 1), std::invalid_argument);
}
