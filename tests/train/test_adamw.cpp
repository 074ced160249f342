// test_adamw.cpp: AdamW against updates computed by hand in double precision,
// and global-norm gradient clipping.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "train/adamw.h"

using namespace cpurich;

namespace {

// The textbook AdamW recurrence for one element, in double.
struct RefAdam {
  double p, m = 0, v = 0;
  void step(double g, double lr, double wd, int t, double b1, double b2, double eps) {
    p -= lr * wd * p;  // decoupled decay first (as torch.optim.AdamW)
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
    p -= lr * mhat / (std::sqrt(vhat) + eps);
  }
};

std::vector<std::pair<std::string, Var>> make_params() {
  return {
      {"w", Var(Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f, 0.25f}, {2, 2}), true)},
      {"b", Var(Tensor::from_vector(std::vector<float>{0.1f, -0.3f}, {2}), true)}};
}

void set_grad(const Var& p, const std::vector<float>& g) {
  p.grad() = Tensor::from_vector(g, p.shape());
}

}  // namespace

TEST_CASE("AdamW matches the hand-computed recurrence over three steps", "[adamw]") {
  auto params = make_params();
  const AdamWOptions o{0.9, 0.99, 1e-8, 0.1};
  AdamW opt(params, o);
  CHECK(opt.decays("w"));
  CHECK_FALSE(opt.decays("b"));
  std::vector<RefAdam> ref_w, ref_b;
  for (double x : params[0].second.value().to_vector()) ref_w.push_back({x});
  for (double x : params[1].second.value().to_vector()) ref_b.push_back({x});
  const std::vector<std::vector<float>> gw = {
      {0.1f, -0.2f, 0.3f, 0.0f}, {0.05f, 0.5f, -1.0f, 2.0f}, {-0.3f, 0.1f, 0.2f, -0.4f}};
  const std::vector<std::vector<float>> gb = {{1.0f, -0.01f}, {0.2f, 0.3f}, {-0.5f, 0.0f}};
  const double lrs[] = {1e-2, 5e-3, 2e-2};
  for (int t = 1; t <= 3; ++t) {
    set_grad(params[0].second, gw[t - 1]);
    set_grad(params[1].second, gb[t - 1]);
    opt.step(lrs[t - 1]);
    for (int i = 0; i < 4; ++i) ref_w[i].step(gw[t - 1][i], lrs[t - 1], 0.1, t, 0.9, 0.99, 1e-8);
    for (int i = 0; i < 2; ++i) ref_b[i].step(gb[t - 1][i], lrs[t - 1], 0.0, t, 0.9, 0.99, 1e-8);
  }
  CHECK(opt.step_count() == 3);
  // float32 arithmetic vs double reference: a few ulps of values ~1, so 1e-6.
  const auto w = params[0].second.value().to_vector(), b = params[1].second.value().to_vector();
  for (int i = 0; i < 4; ++i) CHECK(w[i] == Approx(ref_w[i].p).margin(1e-6));
  for (int i = 0; i < 2; ++i) CHECK(b[i] == Approx(ref_b[i].p).margin(1e-6));
}

TEST_CASE("AdamW first step moves each element by lr against its gradient's sign", "[adamw]") {
  // Bias correction: after step 1, mhat = g and vhat = g^2, so the step is
  // lr * g / (|g| + eps) = lr * sign(g) for |g| >> eps, whatever g's scale.
  auto params = make_params();
  AdamW opt(params, AdamWOptions{.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.0});
  set_grad(params[0].second, {1e-3f, -50.0f, 7.0f, -1e-2f});
  set_grad(params[1].second, {3.0f, -3.0f});
  const auto w0 = params[0].second.value().to_vector();
  opt.step(0.01);
  const auto w1 = params[0].second.value().to_vector();
  const double sign[] = {1, -1, 1, -1};
  for (int i = 0; i < 4; ++i) CHECK(w0[i] - w1[i] == Approx(0.01 * sign[i]).epsilon(1e-4));
}

TEST_CASE("AdamW decays 2-D weights only", "[adamw]") {
  // Zero gradients: m = v = 0, so the Adam term is 0/(0+eps) = 0 and only the
  // decoupled decay acts: w *= (1 - lr*wd), b unchanged.
  auto params = make_params();
  AdamW opt(params, AdamWOptions{.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.5});
  const auto w0 = params[0].second.value().to_vector(), b0 = params[1].second.value().to_vector();
  opt.step(0.1);  // no grads at all: treated as zero
  const auto w1 = params[0].second.value().to_vector(), b1 = params[1].second.value().to_vector();
  for (int i = 0; i < 4; ++i) CHECK(w1[i] == Approx(w0[i] * (1 - 0.1 * 0.5)).epsilon(1e-6));
  for (int i = 0; i < 2; ++i) CHECK(b1[i] == b0[i]);
}

TEST_CASE("AdamW state round-trips through state_tensors", "[adamw]") {
  auto p1 = make_params(), p2 = make_params();
  AdamW a(p1, AdamWOptions{}), b(p2, AdamWOptions{});
  for (int t = 0; t < 2; ++t) {
    set_grad(p1[0].second, {0.1f, 0.2f, 0.3f, 0.4f});
    set_grad(p1[1].second, {0.5f, 0.6f});
    a.step(1e-2);
  }
  b.load_state_tensors(a.state_tensors(), a.step_count());
  p2[0].second.value_mut().copy_from(p1[0].second.value());
  p2[1].second.value_mut().copy_from(p1[1].second.value());
  for (auto* ps : {&p1, &p2}) {
    set_grad((*ps)[0].second, {-0.1f, 0.0f, 0.7f, 0.4f});
    set_grad((*ps)[1].second, {0.5f, -0.6f});
  }
  a.step(1e-2);
  b.step(1e-2);
  CHECK(p1[0].second.value().to_vector() == p2[0].second.value().to_vector());
  CHECK(p1[1].second.value().to_vector() == p2[1].second.value().to_vector());
  auto bad = a.state_tensors();
  bad.erase("v.b");
  CHECK_THROWS_WITH(b.load_state_tensors(bad, 3), Catch::Contains("v.b"));
}

TEST_CASE("global grad norm and clipping", "[adamw][clip]") {
  auto params = make_params();
  set_grad(params[0].second, {3.0f, 0.0f, 0.0f, 0.0f});
  set_grad(params[1].second, {0.0f, 4.0f});
  CHECK(global_grad_norm(params) == Approx(5.0).epsilon(1e-12));
  // Under the limit: untouched, the norm is still reported.
  CHECK(clip_grad_norm(params, 10.0) == Approx(5.0).epsilon(1e-12));
  CHECK(params[0].second.grad().at({0, 0}) == 3.0);
  // Over the limit: scaled by 1/(5 + 1e-6), direction kept, new norm ~1.
  CHECK(clip_grad_norm(params, 1.0) == Approx(5.0).epsilon(1e-12));
  CHECK(params[0].second.grad().at({0, 0}) == Approx(0.6).epsilon(1e-6));
  CHECK(params[1].second.grad().at({1}) == Approx(0.8).epsilon(1e-6));
  CHECK(global_grad_norm(params) == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("a non-finite gradient is reported with its parameter's name", "[adamw][clip]") {
  auto params = make_params();
  set_grad(params[0].second, {1.0f, 2.0f, 3.0f, 4.0f});
  set_grad(params[1].second, {std::numeric_limits<float>::quiet_NaN(), 0.0f});
  CHECK_THROWS_AS(global_grad_norm(params), NonFiniteError);
  CHECK_THROWS_WITH(clip_grad_norm(params, 1.0), Catch::Contains("parameter b"));
  set_grad(params[1].second, {0.0f, 0.0f});
  set_grad(params[0].second, {std::numeric_limits<float>::infinity(), 0.0f, 0.0f, 0.0f});
  CHECK_THROWS_WITH(global_grad_norm(params), Catch::Contains("parameter w"));
}

// The sum of squares runs in 8 interleaved partial sums: 1,003 elements (not
// a multiple of 8) check the main loop, the tail, and that every element counts.
TEST_CASE("grad norm of a large parameter counts every element", "[adamw][clip]") {
  std::vector<float> g(1003);
  long double expected = 0.0L;
  for (std::size_t j = 0; j < g.size(); ++j) {
    g[j] =
        0.125f * static_cast<float>(static_cast<int>(j % 13) - 6) + 1e-3f * static_cast<float>(j);
    expected += static_cast<long double>(g[j]) * g[j];
  }
  std::vector<std::pair<std::string, Var>> params = {{"big", Var(Tensor::zeros({17, 59}), true)}};
  set_grad(params[0].second, g);
  CHECK(global_grad_norm(params) ==
        Approx(static_cast<double>(std::sqrt(expected))).epsilon(1e-14));
  // The last element is summed in the tail loop: changing it moves the norm.
  expected -= static_cast<long double>(g[1002]) * g[1002];
  g[1002] = 3.0f;
  expected += 9.0L;
  set_grad(params[0].second, g);
  CHECK(global_grad_norm(params) ==
        Approx(static_cast<double>(std::sqrt(expected))).epsilon(1e-14));
}
