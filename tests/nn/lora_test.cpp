// lora_test.cpp: LoRA adapters: a fresh adapter leaves the model bitwise
// unchanged, the adapter path's gradients match finite differences (F64),
// merging gives the adapter's output, the base is frozen (no grads, bytes
// unchanged after training), PEFT's target matching, scale and dropout.
#include "nn/lora.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/gpt.h"
#include "nn_test_util.h"
#include "tensor/matmul.h"
#include "tensor/ops.h"

using namespace cpurich;
using namespace cpurich::testing;
using Catch::Matchers::Contains;

namespace {

const std::vector<int32_t> kIds = {1, 6, 2, 0, 3, 3, 5, 4, 10, 9, 8, 7};  // B = 2, T = 6

// Gives every adapter's B random values so the adapter term is not zero.
void randomize_b(GPT& model, uint64_t seed, double std = 0.3) {
  Rng rng(seed);
  for (const auto& [name, lin] : model.linear_modules())
    if (lin->lora)
      lin->lora->B.value_mut().copy_from(
          rng.normal(lin->lora->B.shape(), 0.0, std, lin->lora->B.value().dtype()));
}

}  // namespace

TEST_CASE("LoRA at init: B = 0, A bounded, the output is bitwise the base's", "[nn][lora]") {
  GPT model(toy_config(2), 7);
  randomize(model, 8);
  const Tensor before = model.forward(kIds, 2, 6).value().clone();
  const NamedParameters params = add_lora(model, {.rank = 2, .alpha = 4, .seed = 3});
  // 2 layers x (c_attn, attn.c_proj, c_fc, mlp.c_proj) x (A, B).
  REQUIRE(params.size() == 16);
  CHECK(params[0].first == "h.0.attn.c_attn.lora_A.weight");
  CHECK(params[0].second.shape() == Shape{2, 8});   // (r, in)
  CHECK(params[1].second.shape() == Shape{24, 2});  // (out, r)
  CHECK(params[4].first == "h.0.mlp.c_fc.lora_A.weight");
  CHECK(params[6].first == "h.0.mlp.c_proj.lora_A.weight");
  CHECK(params[6].second.shape() == Shape{2, 32});
  const double bound = 1.0 / std::sqrt(8.0);
  double amax = 0;
  for (int64_t i = 0; i < params[0].second.value().numel(); ++i)
    amax = std::max(amax, std::abs(static_cast<double>(params[0].second.value().data_f32()[i])));
  CHECK(amax <= bound);
  CHECK(amax > 0.5 * bound);  // drawn, not zero
  const Tensor after = model.forward(kIds, 2, 6).value();
  CHECK(max_abs_diff(before, after) == 0.0);
}

TEST_CASE("LoRA: PEFT target matching, scale, rank and option errors", "[nn][lora]") {
  CHECK(lora_target_matches("h.0.attn.c_proj", {"c_proj"}));
  CHECK(lora_target_matches("h.0.mlp.c_proj", {"c_proj"}));
  CHECK(lora_target_matches("h.0.mlp.c_proj", {"mlp.c_proj"}));
  CHECK_FALSE(lora_target_matches("h.0.attn.c_proj", {"mlp.c_proj"}));
  CHECK_FALSE(lora_target_matches("h.0.attn.c_attn", {"attn"}));
  CHECK_FALSE(lora_target_matches("h.0.attn.xc_proj", {"c_proj"}));
  CHECK(LoraOptions{.rank = 4, .alpha = 8}.scale() == 2.0);
  CHECK(LoraOptions{.rank = 4, .alpha = 8, .rslora = true}.scale() == 4.0);

  GPT model(toy_config(2), 7);
  CHECK_THROWS_WITH(add_lora(model, {.targets = {"c_q"}}), Contains("'c_q' matches no layer"));
  CHECK_THROWS_WITH(add_lora(model, {.rank = 0}), Contains("rank must be >= 1"));
  CHECK_THROWS_WITH(add_lora(model, {.rank = 9}), Contains("exceeds the smaller side"));
  CHECK_THROWS_WITH(add_lora(model, {.dropout = 1.0}), Contains("dropout"));
  CHECK_THROWS_WITH(add_lora(model, {.alpha = -1}), Contains("alpha"));
  const auto p = add_lora(model, {.rank = 2, .targets = {"mlp.c_proj"}});
  CHECK(lora_modules(model) == std::vector<std::string>{"h.0.mlp.c_proj", "h.1.mlp.c_proj"});
  CHECK(p.size() == 4);
  CHECK_THROWS_WITH(add_lora(model, {.rank = 2}), Contains("already has an adapter"));
}

TEST_CASE("LoRA adapter path: gradcheck of x, A and B in F64", "[nn][lora]") {
  Rng rng(5);
  const LoraOptions o{.rank = 3, .alpha = 6};
  LoraAdapter ad(5, 4, o, DType::F64, rng, 1);
  const Tensor x = rng.normal({2, 3, 5}, 0, 1, DType::F64);
  const Tensor a = rng.normal({3, 5}, 0, 1, DType::F64);
  const Tensor b = rng.normal({4, 3}, 0, 1, DType::F64);
  auto f = [&](const std::vector<Var>& v) {
    ad.A = v[1];
    ad.B = v[2];
    return ad.forward(v[0], /*training=*/false);
  };
  const GradcheckReport r = gradcheck(f, {x, a, b});
  INFO(r.summary());
  CHECK(r.passed);
  // Forward = s * x A^T B^T, checked against the tensor ops.
  ad.A = Var(a);
  ad.B = Var(b);
  const Tensor want = mul_scalar(matmul(matmul(x, a, false, true), b, false, true), o.scale());
  CHECK(max_abs_diff(ad.forward(Var(x), false).value(), want) < 1e-12);
}

TEST_CASE("fused linear_lora in F32 matches the F64 formula: value and every gradient",
          "[nn][lora]") {
  // y = x W + b + s (xa A^T) B^T with xa != x (as under dropout), and a loss
  // sum(y * R) so that dy = R is not uniform. The F32 op is fused (one output
  // buffer, u = s xa A^T kept); the F64 one is the plain composition.
  Rng rng(21);
  const int64_t N = 37, IN = 24, OUT = 40, R = 3;
  const double s = 2.5;
  const std::vector<Tensor> t64 = {
      rng.normal({N, IN}, 0, 1, DType::F64),   rng.normal({N, IN}, 0, 1, DType::F64),
      rng.normal({IN, OUT}, 0, 1, DType::F64), rng.normal({OUT}, 0, 1, DType::F64),
      rng.normal({R, IN}, 0, 1, DType::F64),   rng.normal({OUT, R}, 0, 1, DType::F64)};
  const Tensor Rw = rng.normal({N, OUT}, 0, 1, DType::F64);
  auto run = [&](DType dt) {
    std::vector<Var> v;
    for (const Tensor& t : t64) v.emplace_back(t.to(dt), true);
    const Var y = ag::linear_lora(v[0], v[1], v[2], v[3], v[4], v[5], s);
    ag::sum_all(ag::mul(y, Var(Rw.to(dt)))).backward();
    std::vector<Tensor> out{y.value().to(DType::F64)};
    for (const Var& p : v) out.push_back(p.grad().to(DType::F64));
    return out;
  };
  const std::vector<Tensor> f32 = run(DType::F32), f64 = run(DType::F64);
  // Every entry is a float32 sum of at most 40 products, with entries up to
  // ~100 in size: rounding stays near 1e-5 (measured: at most 4e-5), while a
  // wrong or missing term would be off by O(1).
  const char* names[] = {"y", "dx", "dxa", "dW", "db", "dA", "dB"};
  for (size_t i = 0; i < f32.size(); ++i) {
    INFO(names[i]);
    CHECK(max_abs_diff(f32[i], f64[i]) < 2e-4);
  }
}

TEST_CASE("LoRA on a whole F64 GPT: gradcheck of every adapter through the loss", "[nn][lora]") {
  GPTConfig cfg = toy_config(2);
  cfg.n_positions = 4;
  cfg.vocab_size = 7;
  GPT model(cfg, 11, DType::F64);
  randomize(model, 12);
  const NamedParameters params = add_lora(model, {.rank = 2, .alpha = 4, .seed = 1});
  randomize_b(model, 13);
  std::vector<Tensor> inputs;
  for (const auto& [name, p] : params) inputs.push_back(p.value().clone());
  const std::vector<int32_t> ids = {1, 6, 2, 0, 3, 3, 5, 4};
  const std::vector<int32_t> targets = {6, 2, 0, -1, 3, 5, -1, 2};
  auto f = [&](const std::vector<Var>& leaves) {
    size_t k = 0;
    for (const auto& [name, lin] : model.linear_modules()) {
      lin->lora->A = leaves[k++];
      lin->lora->B = leaves[k++];
    }
    return model.loss(ids, targets, 2, 4);
  };
  const GradcheckReport r = gradcheck(f, inputs);
  INFO(r.summary());
  CHECK(r.passed);
}

TEST_CASE("LoRA merge: W + s A^T B^T gives the adapter's logits", "[nn][lora]") {
  GPT model(toy_config(2), 7);
  randomize(model, 8);
  const Tensor base = model.forward(kIds, 2, 6).value().clone();
  add_lora(model, {.rank = 2, .alpha = 4, .seed = 3});
  randomize_b(model, 9);
  const Tensor adapted = model.forward(kIds, 2, 6).value().clone();
  REQUIRE(max_abs_diff(adapted, base) > 1e-2);  // the adapter does something
  merge_lora(model);
  CHECK(lora_modules(model).empty());
  const Tensor merged = model.forward(kIds, 2, 6).value();
  CHECK(max_abs_diff(merged, adapted) < 1e-4);
  CHECK(max_abs_diff(merged, base) > 1e-2);
}

TEST_CASE("LoRA freezes the base: no gradient, bytes unchanged after updates", "[nn][lora]") {
  GPT model(toy_config(2), 7);
  randomize(model, 8);
  std::map<std::string, Tensor> before;
  for (const auto& [name, t] : model.state_dict()) before[name] = t.clone();
  const NamedParameters params =
      add_lora(model, {.rank = 2, .alpha = 4, .dropout = 0.1, .seed = 3});
  for (const auto& [name, p] : model.named_parameters()) CHECK_FALSE(p.requires_grad());
  const std::vector<int32_t> targets = {6, 2, 0, 1, 3, 5, 4, 10, 9, 8, 7, 1};
  for (int step = 0; step < 3; ++step) {
    model.loss(kIds, targets, 2, 6, /*training=*/true).backward();
    for (const auto& [name, p] : model.named_parameters()) CHECK_FALSE(p.has_grad());
    NoGradGuard ng;
    for (const auto& [name, p] : params) {  // plain SGD on the adapter
      REQUIRE(p.has_grad());
      Var q = p;
      q.value_mut().copy_from(sub(q.value(), mul_scalar(q.grad(), 0.5)));
      q.zero_grad();
    }
  }
  for (const auto& [name, t] : model.state_dict()) CHECK(max_abs_diff(t, before.at(name)) == 0.0);
  CHECK(max_abs_diff(params[1].second.value(), Tensor::zeros(params[1].second.shape())) > 0.0);
}

TEST_CASE("LoRA dropout acts in training only, on the adapter input", "[nn][lora]") {
  GPT model(toy_config(1), 7);
  randomize(model, 8);
  add_lora(model, {.rank = 2, .alpha = 4, .dropout = 0.5, .seed = 3});
  randomize_b(model, 9);
  const Tensor eval1 = model.forward(kIds, 2, 6, false).value().clone();
  const Tensor eval2 = model.forward(kIds, 2, 6, false).value().clone();
  CHECK(max_abs_diff(eval1, eval2) == 0.0);
  const Tensor train = model.forward(kIds, 2, 6, true).value().clone();
  CHECK(max_abs_diff(train, eval1) > 1e-4);
}
