// qlora_test.cpp: QLoRA's op and model wiring, and LoftQ.
//   - ag::linear_nf4_lora: gradcheck in F64 (x, xa, bias, A, B); the fused F32
//     op (panel-tiled NF4 GEMMs) against the F64 formula, value and gradients;
//   - add_qlora: the f32 weights are released, the NF4 model at init computes
//     what an f32 model holding dequant(nf4(W)) computes;
//   - the truncated SVD recovers a low-rank matrix; LoftQ's init error is
//     below plain QLoRA's, per matrix and over a whole model.
#include "nn/qlora.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <memory>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/gpt.h"
#include "nn/loftq.h"
#include "nn_test_util.h"
#include "tensor/ops.h"

using namespace cpurich;
using namespace cpurich::testing;

namespace {

double max_abs(const Tensor& t) {
  return max_abs_diff(t, Tensor::zeros(t.shape(), t.dtype()));
}

std::shared_ptr<const QuantMatrix> random_nf4(int64_t out, int64_t in, uint64_t seed) {
  Rng rng(seed);
  const Tensor w = rng.normal({out, in}, 0.0, 0.5, DType::F32);
  return std::make_shared<const QuantMatrix>(
      quantize_matrix(QuantFormat::NF4, {w.data_f32(), static_cast<size_t>(w.numel())}, out, in));
}

GPTConfig qlora_config() {  // n_embd a multiple of NF4's block of 64
  GPTConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 64;
  c.n_positions = 8;
  c.vocab_size = 13;
  return c;
}

const std::vector<int32_t> kIds = {1, 6, 2, 0, 3, 3, 5, 4, 10, 9, 8, 7, 12, 11, 2, 1};  // B 2, T 8

}  // namespace

TEST_CASE("linear_nf4_lora: gradcheck of x, xa, bias, A and B in F64", "[nn][qlora]") {
  Rng rng(3);
  const auto q = random_nf4(5, 64, 4);  // W^T (OUT 5, IN 64)
  const std::vector<Tensor> in = {
      rng.normal({3, 64}, 0, 1, DType::F64), rng.normal({3, 64}, 0, 1, DType::F64),
      rng.normal({5}, 0, 1, DType::F64), rng.normal({2, 64}, 0, 1, DType::F64),
      rng.normal({5, 2}, 0, 1, DType::F64)};
  auto f = [&](const std::vector<Var>& v) {
    return ag::linear_nf4_lora(v[0], v[1], q, v[2], v[3], v[4], 1.5);
  };
  const GradcheckReport r = gradcheck(f, in);
  INFO(r.summary());
  CHECK(r.passed);
}

TEST_CASE("fused linear_nf4_lora in F32 matches the F64 formula: value and every gradient",
          "[nn][qlora]") {
  // OUT = 200: one full panel of 128 decoded rows and a partial one of 72.
  Rng rng(21);
  const int64_t N = 37, IN = 128, OUT = 200, R = 3;
  const double s = 2.5;
  const auto q = random_nf4(OUT, IN, 22);
  const std::vector<Tensor> t64 = {
      rng.normal({N, IN}, 0, 1, DType::F64), rng.normal({N, IN}, 0, 1, DType::F64),
      rng.normal({OUT}, 0, 1, DType::F64), rng.normal({R, IN}, 0, 1, DType::F64),
      rng.normal({OUT, R}, 0, 1, DType::F64)};
  const Tensor Rw = rng.normal({N, OUT}, 0, 1, DType::F64);
  auto run = [&](DType dt) {
    std::vector<Var> v;
    for (const Tensor& t : t64) v.emplace_back(t.to(dt), true);
    const Var y = ag::linear_nf4_lora(v[0], v[1], q, v[2], v[3], v[4], s);
    ag::sum_all(ag::mul(y, Var(Rw.to(dt)))).backward();
    std::vector<Tensor> out{y.value().to(DType::F64)};
    for (const Var& p : v) out.push_back(p.grad().to(DType::F64));
    return out;
  };
  const std::vector<Tensor> f32 = run(DType::F32), f64 = run(DType::F64);
  // Each entry is an f32 sum of at most max(IN, OUT, N) = 200 products; the
  // F64 run uses the same decoded weights, so the only difference is f32
  // rounding: |err| <= gamma_200 * sum|terms| ~ 1.2e-5 * sum|terms|. With
  // these N(0,1) inputs sum|terms| stays below ~10 * max|entry|, so 2e-4 of
  // the largest entry bounds rounding, while a wrong or missing term is O(1)
  // of it.
  const char* names[] = {"y", "dx", "dxa", "db", "dA", "dB"};
  for (size_t i = 0; i < f32.size(); ++i) {
    INFO(names[i]);
    const double scale = max_abs(f64[i]);
    CHECK(scale > 0.0);
    CHECK(max_abs_diff(f32[i], f64[i]) <= 2e-4 * scale);
  }
}

TEST_CASE("add_qlora: f32 base released, the NF4 model is the dequantized model", "[nn][qlora]") {
  GPT model(qlora_config(), 7);
  randomize(model, 8, 0.1);
  GPT ref(qlora_config(), 7);
  ref.load_state_dict([&] {
    std::map<std::string, Tensor> sd;
    for (const auto& [n, t] : model.state_dict()) sd[n] = t.clone();
    return sd;
  }());
  QLoraStats st;
  const NamedParameters params = add_qlora(model, {.rank = 2, .alpha = 4, .seed = 3}, {}, &st);
  CHECK(params.size() == 16);
  int64_t weights = 0;
  for (const auto& [name, lin] : model.linear_modules()) {
    INFO(name);
    CHECK_FALSE(lin->weight.defined());
    REQUIRE(lin->weight_nf4);
    CHECK(lin->weight_nf4->format == QuantFormat::NF4);
    weights += lin->weight_nf4->rows * lin->weight_nf4->cols;
    // ref gets W = dequant(nf4(W)) in its (in, out) layout.
    Linear* r = nullptr;
    for (const auto& [rn, rl] : ref.linear_modules())
      if (rn == name) r = rl;
    REQUIRE(r);
    const QuantMatrix& q = *lin->weight_nf4;
    std::vector<float> wt(static_cast<size_t>(q.rows * q.cols));
    dequantize_matrix(q, wt);
    float* w = r->weight.value_mut().data_f32();
    for (int64_t o = 0; o < q.rows; ++o)
      for (int64_t c = 0; c < q.cols; ++c) w[c * q.rows + o] = wt[o * q.cols + c];
  }
  CHECK(st.base_weights == weights);
  CHECK(8.0 * static_cast<double>(st.base_bytes) / static_cast<double>(weights) < 4.2);
  CHECK(st.init_error > 0.0);
  CHECK(st.init_error < 0.2 * st.weight_norm);  // NF4 keeps W within ~10%
  // B = 0 at init: the NF4 model is the dequantized f32 model (up to the
  // f32 summation order of two GEMMs: same products, same K order per panel).
  const Tensor a = model.forward(kIds, 2, 8).value(), b = ref.forward(kIds, 2, 8).value();
  CHECK(max_abs_diff(a, b) < 1e-4 * std::max(1.0, max_abs(b)));
}

TEST_CASE("truncated SVD recovers the singular values of a rank-3 matrix", "[nn][loftq]") {
  // M = sum_j s_j u_j v_j^T with orthonormal u, v built by Gram-Schmidt.
  const int64_t m = 40, n = 30;
  Rng rng(5);
  const Tensor g = rng.normal({m + n, 3}, 0, 1, DType::F64);
  std::vector<double> u(static_cast<size_t>(m * 3)), v(static_cast<size_t>(n * 3));
  for (int64_t i = 0; i < m; ++i)
    for (int j = 0; j < 3; ++j) u[i * 3 + j] = g.data_f64()[i * 3 + j];
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 3; ++j) v[i * 3 + j] = g.data_f64()[(m + i) * 3 + j];
  auto orth = [](std::vector<double>& a, int64_t rows) {
    for (int j = 0; j < 3; ++j) {
      for (int p = 0; p < j; ++p) {
        double d = 0;
        for (int64_t i = 0; i < rows; ++i) d += a[i * 3 + p] * a[i * 3 + j];
        for (int64_t i = 0; i < rows; ++i) a[i * 3 + j] -= d * a[i * 3 + p];
      }
      double nn = 0;
      for (int64_t i = 0; i < rows; ++i) nn += a[i * 3 + j] * a[i * 3 + j];
      for (int64_t i = 0; i < rows; ++i) a[i * 3 + j] /= std::sqrt(nn);
    }
  };
  orth(u, m);
  orth(v, n);
  const double sv[3] = {5.0, 2.0, 0.5};
  std::vector<double> mat(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < n; ++c)
      for (int j = 0; j < 3; ++j) mat[i * n + c] += sv[j] * u[i * 3 + j] * v[c * 3 + j];
  const TruncatedSvd r = truncated_svd(mat, m, n, 2, 9);
  REQUIRE(r.s.size() == 2);
  CHECK(r.s[0] == Approx(5.0).epsilon(1e-9));
  CHECK(r.s[1] == Approx(2.0).epsilon(1e-9));
  // The rank-2 residual is exactly the third component: norm 0.5.
  double res = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < n; ++c) {
      double x = mat[i * n + c];
      for (int j = 0; j < 2; ++j) x -= r.u[i * 2 + j] * r.s[j] * r.vt[j * n + c];
      res += x * x;
    }
  CHECK(std::sqrt(res) == Approx(0.5).epsilon(1e-8));
  CHECK_THROWS_AS(truncated_svd(mat, m, n, 31, 9), std::invalid_argument);
}

TEST_CASE("LoftQ lowers the init error below plain QLoRA's", "[nn][loftq]") {
  Rng rng(11);
  const int64_t out = 96, in = 128, r = 8;
  const double s = 2.0;
  const Tensor w = rng.normal({out, in}, 0.0, 0.05, DType::F32);
  const std::span<const float> ws(w.data_f32(), static_cast<size_t>(w.numel()));
  const QuantMatrix plain = quantize_matrix(QuantFormat::NF4, ws, out, in);
  const std::vector<float> a0(static_cast<size_t>(r * in), 0.0f),
      b0(static_cast<size_t>(out * r), 0.0f);
  const double e_plain = qlora_init_error(ws, plain, a0, b0, r, s);
  const LoftqInit l1 = loftq_init(ws, out, in, r, s, 1, 5);
  const double e1 = qlora_init_error(ws, l1.q, l1.a, l1.b, r, s);
  const LoftqInit l3 = loftq_init(ws, out, in, r, s, 3, 5);
  const double e3 = qlora_init_error(ws, l3.q, l3.a, l3.b, r, s);
  INFO("plain " << e_plain << ", loftq x1 " << e1 << ", loftq x3 " << e3);
  CHECK(l1.q.data == plain.data);  // iteration 1 quantizes W itself
  CHECK(e1 < e_plain);
  CHECK(e3 < e_plain);

  // Over a whole model, through add_qlora.
  QLoraStats sp, sl;
  GPT m1(qlora_config(), 7), m2(qlora_config(), 7);
  add_qlora(m1, {.rank = 4, .alpha = 8, .seed = 3}, {}, &sp);
  add_qlora(m2, {.rank = 4, .alpha = 8, .seed = 3}, {.loftq_iters = 2}, &sl);
  INFO("model: plain " << sp.init_error << ", loftq x2 " << sl.init_error);
  CHECK(sl.init_error < sp.init_error);
  CHECK(sl.weight_norm == sp.weight_norm);
}
