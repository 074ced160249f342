// gpt_gradcheck_test.cpp: the backward pass of a whole 2-layer toy GPT in
// float64, every parameter's gradient against central differences.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/gpt.h"
#include "nn_test_util.h"

using namespace cpurich;
using namespace cpurich::testing;

TEST_CASE("gradcheck of a whole 2-layer GPT loss in F64", "[nn]") {
  GPTConfig cfg = toy_config(2);
  cfg.vocab_size = 7;
  cfg.n_positions = 4;
  GPT model(cfg, 11, DType::F64);
  randomize(model, 12);  // std 0.3: every nonlinearity is away from its linear regime

  std::vector<Tensor> inputs;
  for (const auto& [name, p] : model.named_parameters()) inputs.push_back(p.value().clone());
  const std::vector<int32_t> ids = {1, 6, 2, 0, 3, 3, 5, 4};
  const std::vector<int32_t> targets = {6, 2, 0, 1, 3, 5, -1, 2};  // one ignored position
  // gradcheck makes fresh leaves for every evaluation; the model computes with them.
  auto f = [&](const std::vector<Var>& leaves) {
    model.set_parameters(leaves);
    return model.loss(ids, targets, 2, 4);
  };
  const GradcheckReport report = gradcheck(f, inputs);
  INFO(report.summary());
  CHECK(report.passed);
  // The check must be able to fail: when the recorded graph (backward) and
  // the forward disagree by a factor 2, wte's gradient is flagged.
  auto g = [&](const std::vector<Var>& leaves) {
    std::vector<Var> all = {leaves[0]};
    for (size_t i = 1; i < inputs.size(); ++i) all.emplace_back(inputs[i].clone());
    model.set_parameters(all);
    const Var loss = model.loss(ids, targets, 2, 4);
    return grad_enabled() ? ag::mul_scalar(loss, 2.0) : loss;
  };
  CHECK_FALSE(gradcheck(g, {inputs[0]}).passed);
}
