// gpt_forward_test.cpp: the GPT forward pass against hand-computed logits and
// against an independent double-precision implementation (nn/gpt_naive.h);
// parameter names, counts and initialisation.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "nn/gpt.h"
#include "nn/gpt_naive.h"
#include "nn_test_util.h"
#include "tensor/ops.h"

using namespace cpurich;
using namespace cpurich::naive;
using namespace cpurich::testing;

TEST_CASE("1-layer GPT with hand-set weights gives hand-computed logits", "[nn]") {
  // All block weights and biases zero: attention and MLP branches add 0 (c_proj
  // is zero), so x = wte[id] + wpe[t]. With C = 2, LayerNorm maps (a, b) to
  // (s, -s) with s = ((a-b)/2) / sqrt(((a-b)/2)^2 + eps); then
  // logits_v = (s*g0 + b0) * wte[v][0] + (-s*g1 + b1) * wte[v][1].
  GPTConfig cfg;
  cfg.n_layer = 1;
  cfg.n_head = 1;
  cfg.n_embd = 2;
  cfg.n_positions = 2;
  cfg.vocab_size = 3;
  GPT model = GPT::zeros(cfg, DType::F64);
  std::map<std::string, Tensor> sd = model.state_dict();
  sd["wte.weight"] = Tensor::from_vector(std::vector<double>{1, 0, 0, 1, 2, -1}, {3, 2});
  sd["wpe.weight"] = Tensor::from_vector(std::vector<double>{0, 0, 0.5, -0.5}, {2, 2});
  sd["ln_f.weight"] = Tensor::from_vector(std::vector<double>{2, 1}, {2});
  sd["ln_f.bias"] = Tensor::from_vector(std::vector<double>{0.5, 0}, {2});
  model.load_state_dict(sd);

  const std::vector<int32_t> ids = {0, 2};
  const Tensor logits = model.forward(ids, 1, 2).value();
  REQUIRE(logits.shape() == Shape{1, 2, 3});
  const double eps = cfg.layer_norm_epsilon;
  // t=0: x = (1, 0), (a-b)/2 = 0.5.   t=1: x = (2.5, -1.5), (a-b)/2 = 2.
  for (int64_t t = 0; t < 2; ++t) {
    const double half = t == 0 ? 0.5 : 2.0;
    const double s = half / std::sqrt(half * half + eps);
    const double y0 = 2 * s + 0.5, y1 = -s;  // ln_f output
    const double expected[3] = {y0, y1, 2 * y0 - y1};
    for (int64_t v = 0; v < 3; ++v)
      CHECK(logits.at({0, t, v}) == Approx(expected[v]).epsilon(1e-12));
  }
}

TEST_CASE("GPT forward matches a naive double-precision GPT-2", "[nn]") {
  const int64_t n_layer = GENERATE(1, 2);
  const GPTConfig cfg = toy_config(n_layer);
  const int64_t B = 2, T = 5;
  std::vector<int32_t> ids(B * T);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + 3) % 11);

  GPT model(cfg, 1);
  randomize(model, 42);
  auto params = to_doubles(model.state_dict());
  for (DType dtype : {DType::F64, DType::F32}) {
    model.to_dtype(dtype);
    const Tensor logits = model.forward(ids, B, T).value();
    REQUIRE(logits.shape() == Shape{B, T, cfg.vocab_size});
    REQUIRE(logits.dtype() == dtype);
    // F64: only summation order differs from the reference -> 1e-10.
    // F32: ~2^-24 relative rounding per op over a few dozen chained ops with
    // O(1) values -> 1e-4 absolute leaves a wide margin yet catches any bug.
    const double tol = dtype == DType::F64 ? 1e-10 : 1e-4;
    for (int64_t b = 0; b < B; ++b) {
      const std::vector<int32_t> row(ids.begin() + b * T, ids.begin() + (b + 1) * T);
      const Mat ref = gpt_logits(cfg, params, row);
      double worst = 0;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t v = 0; v < cfg.vocab_size; ++v)
          worst = std::max(worst, std::fabs(logits.at({b, t, v}) - ref[t][v]));
      INFO("n_layer " << n_layer << " dtype " << dtype_name(dtype) << " batch row " << b);
      CHECK(worst < tol);
    }
  }
}

TEST_CASE("GPT loss is the mean next-token cross-entropy of the logits", "[nn]") {
  const GPTConfig cfg = toy_config(1);
  GPT model(cfg, 3, DType::F64);
  randomize(model, 5);
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<int32_t> targets = {2, 3, 4, 5, 6, 7, 8, 9};
  const double loss = model.loss(ids, targets, 2, 4).value().item();
  auto params = to_doubles(model.state_dict());
  double expected = 0;
  for (int b = 0; b < 2; ++b) {
    const Mat ref = gpt_logits(cfg, params, {ids.begin() + 4 * b, ids.begin() + 4 * b + 4});
    for (int t = 0; t < 4; ++t) expected += nll(ref[t], targets[4 * b + t]) / 8;
  }
  CHECK(loss == Approx(expected).epsilon(1e-10));
  // ignore_index drops positions from the mean.
  std::vector<int32_t> masked = targets;
  masked[0] = masked[5] = -1;
  const double partial = model.loss(ids, masked, 2, 4).value().item();
  CHECK(partial != Approx(loss).epsilon(1e-6));
}

TEST_CASE("GPT parameter names follow Hugging Face GPT-2", "[nn]") {
  GPT model(toy_config(2), 1);
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  std::vector<std::string> expected = {"wte.weight", "wpe.weight"};
  for (int l = 0; l < 2; ++l)
    for (const char* s :
         {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
          "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"})
      expected.push_back("h." + std::to_string(l) + "." + s);
  expected.push_back("ln_f.weight");
  expected.push_back("ln_f.bias");
  CHECK(names == expected);
  const auto sd = model.state_dict();
  CHECK(sd.at("h.1.attn.c_attn.weight").shape() == Shape{8, 24});  // (in, out) like Conv1D
  CHECK(sd.at("h.0.mlp.c_proj.weight").shape() == Shape{32, 8});
  CHECK(sd.at("wpe.weight").shape() == Shape{6, 8});
}

TEST_CASE("GPT parameter counts match the closed-form formula", "[nn]") {
  // Per block: 2 LayerNorms (4C) + c_attn (3C^2 + 3C) + c_proj (C^2 + C)
  //          + c_fc (4C^2 + 4C) + mlp c_proj (4C^2 + C) = 12C^2 + 13C.
  // Plus wte (VC), wpe (PC), ln_f (2C); the head is tied, so adds nothing.
  for (const GPTConfig& cfg : {toy_config(1), toy_config(3), GPTConfig{}}) {
    const int64_t C = cfg.n_embd, L = cfg.n_layer, V = cfg.vocab_size, P = cfg.n_positions;
    const GPT model = GPT::zeros(cfg);
    const int64_t body = L * (12 * C * C + 13 * C) + 2 * C;
    CHECK(model.num_parameters() == V * C + P * C + body);
    CHECK(model.num_parameters_non_embedding() == body);
  }
  // GPT-2 124M's config gives the famous 124,439,808 (counted, not allocated).
  const int64_t C = 768, L = 12;
  CHECK(50257 * C + 1024 * C + L * (12 * C * C + 13 * C) + 2 * C == 124439808);
}

TEST_CASE("GPT init follows GPT-2: N(0,0.02), scaled residual projections, LN 1/0", "[nn]") {
  GPTConfig cfg = toy_config(2);
  cfg.n_embd = 64;
  cfg.n_head = 4;
  cfg.vocab_size = 300;
  const GPT model(cfg, 7);
  auto stddev = [](const Tensor& t) {
    const std::vector<double> v = t.to_vector();
    double s = 0, ss = 0;
    for (double x : v) s += x, ss += x * x;
    const double n = static_cast<double>(v.size());
    return std::sqrt(ss / n - (s / n) * (s / n));
  };
  const auto sd = model.state_dict();
  // >= 4096 draws each: the sample std is within ~1.1% (1 sigma) of the true one; 5% is > 4 sigma.
  CHECK(stddev(sd.at("wte.weight")) == Approx(0.02).epsilon(0.05));
  CHECK(stddev(sd.at("h.0.attn.c_attn.weight")) == Approx(0.02).epsilon(0.05));
  CHECK(stddev(sd.at("h.1.mlp.c_fc.weight")) == Approx(0.02).epsilon(0.05));
  CHECK(stddev(sd.at("h.0.attn.c_proj.weight")) == Approx(0.01).epsilon(0.05));  // 0.02/sqrt(4)
  CHECK(stddev(sd.at("h.1.mlp.c_proj.weight")) == Approx(0.01).epsilon(0.05));
  for (const auto& [name, t] : sd) {
    INFO(name);
    if (name.ends_with(".bias")) CHECK(max_abs_diff(t, Tensor::zeros(t.shape())) == 0.0);
    if (name.find("ln_") != std::string::npos && name.ends_with(".weight"))
      CHECK(max_abs_diff(t, Tensor::ones(t.shape())) == 0.0);
  }
  // Same seed -> same bits; another seed -> other weights.
  const GPT again(cfg, 7), other(cfg, 8);
  CHECK(max_abs_diff(again.state_dict().at("h.1.mlp.c_fc.weight"), sd.at("h.1.mlp.c_fc.weight")) ==
        0.0);
  CHECK(max_abs_diff(other.state_dict().at("wte.weight"), sd.at("wte.weight")) > 0.0);
}

TEST_CASE("GPT forward rejects bad sizes and out-of-vocabulary ids", "[nn]") {
  GPT model(toy_config(1), 1);
  std::vector<int32_t> ids(7, 1);
  CHECK_THROWS_WITH(model.forward(ids, 1, 7), Catch::Contains("n_positions"));  // T > 6
  CHECK_THROWS_WITH(model.forward(ids, 2, 3), Catch::Contains("7 ids for B*T = 6"));
  std::vector<int32_t> bad = {1, 2, 11};
  CHECK_THROWS_WITH(model.forward(bad, 1, 3), Catch::Contains("11"));
  GPTConfig cfg = toy_config(1);
  cfg.n_head = 3;
  CHECK_THROWS_WITH(GPT(cfg, 1), Catch::Contains("divisible by n_head"));
}

TEST_CASE("GPT dropout is active only in training mode", "[nn]") {
  GPTConfig cfg = toy_config(1);
  cfg.dropout = 0.5;
  GPT model(cfg, 1, DType::F64);
  randomize(model, 3);
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  const Tensor eval1 = model.forward(ids, 1, 4).value();
  const Tensor eval2 = model.forward(ids, 1, 4).value();
  CHECK(max_abs_diff(eval1, eval2) == 0.0);
  const uint64_t before = model.dropout_rng().counter();
  const Tensor train = model.forward(ids, 1, 4, true).value();
  CHECK(model.dropout_rng().counter() > before);  // masks were drawn
  CHECK(max_abs_diff(train, eval1) > 1e-3);
}
