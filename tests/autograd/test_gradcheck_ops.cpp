// gradcheck of every differentiable op on several tiny shapes: size-1 dims,
// broadcasting, non-contiguous inputs (views made inside the function) and
// inputs used twice. Tolerances are gradcheck's defaults (atol 1e-5, rtol
// 1e-3 in float64, see autograd/gradcheck.h); none is loosened here.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace cpurich;
using V = std::vector<Var>;

namespace {

Tensor randn(const Shape& shape, uint64_t seed) {
  return Rng(seed).normal(shape, 0, 1, DType::F64);
}
// Values in [0.5, 2): safe denominators.
Tensor positive(const Shape& shape, uint64_t seed) {
  return Rng(seed).uniform(shape, 0.5, 2.0, DType::F64);
}

void expect_pass(const GradcheckFn& f, const std::vector<Tensor>& inputs) {
  const GradcheckReport r = gradcheck(f, inputs);
  INFO(r.summary());
  CHECK(r.passed);
}

}  // namespace

TEST_CASE("gradcheck catches a wrong backward", "[gradcheck]") {
  // d/dx of mul_scalar(x, 2) claimed to be 3: the checker must say no.
  auto wrong = [](const V& in) {
    Var y = ag::mul_scalar(in[0], 2.0);
    return make_op_result(y.value(), {in[0]}, "wrong", [](Node& self) {
      accumulate_grad_owned(self.parents[0], cpurich::mul_scalar(self.grad, 3.0));
    });
  };
  const GradcheckReport r = gradcheck(wrong, {randn({3}, 1)});
  CHECK_FALSE(r.passed);
  CHECK(r.inputs[0].max_abs_error == Approx(1.0));
}

TEST_CASE("gradcheck matmul", "[gradcheck]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Shape sa = ta ? Shape{4, 3} : Shape{3, 4}, sb = tb ? Shape{2, 4} : Shape{4, 2};
      expect_pass([ta, tb](const V& in) { return ag::matmul(in[0], in[1], ta, tb); },
                  {randn(sa, 1), randn(sb, 2)});
      // batched a with a shared 2-D b, and a broadcast batch dim
      expect_pass([ta, tb](const V& in) { return ag::matmul(in[0], in[1], ta, tb); },
                  {randn(Shape{2, sa[0], sa[1]}, 3), randn(sb, 4)});
      expect_pass([ta, tb](const V& in) { return ag::matmul(in[0], in[1], ta, tb); },
                  {randn(Shape{2, 1, sa[0], sa[1]}, 5), randn(Shape{3, sb[0], sb[1]}, 6)});
    }
  // non-contiguous input and a value used on both sides: x^T x
  expect_pass([](const V& in) { return ag::matmul(ag::transpose(in[0], 0, 1), in[0]); },
              {randn({3, 2}, 7)});
  expect_pass([](const V& in) { return ag::matmul(in[0], in[1]); },
              {randn({1, 1}, 8), randn({1, 3}, 9)});
}

TEST_CASE("gradcheck linear", "[gradcheck]") {
  expect_pass([](const V& in) { return ag::linear(in[0], in[1], in[2]); },
              {randn({2, 3, 4}, 1), randn({4, 5}, 2), randn({5}, 3)});
  expect_pass([](const V& in) { return ag::linear(in[0], in[1], in[2]); },
              {randn({1, 1}, 4), randn({1, 1}, 5), randn({1}, 6)});
  expect_pass([](const V& in) { return ag::linear(in[0], in[1], Var()); },
              {randn({3, 2}, 7), randn({2, 4}, 8)});
  expect_pass([](const V& in) { return ag::linear(ag::transpose(in[0], 0, 1), in[1], in[2]); },
              {randn({4, 3}, 9), randn({4, 2}, 10), randn({2}, 11)});
}

TEST_CASE("gradcheck add, sub, mul, div with broadcasting", "[gradcheck]") {
  using Op = Var (*)(const Var&, const Var&);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3}, {2, 3}}, {{2, 3, 4}, {3, 1}}, {{2, 1}, {1, 3}}, {{2, 3}, {3}}, {{1}, {2, 2}}};
  for (Op op : {Op(ag::add), Op(ag::sub), Op(ag::mul), Op(ag::div)}) {
    for (const auto& [sa, sb] : shapes)
      expect_pass([op](const V& in) { return op(in[0], in[1]); }, {randn(sa, 1), positive(sb, 2)});
    // the same input on both sides, and a non-contiguous operand
    expect_pass([op](const V& in) { return op(in[0], in[0]); }, {positive({3, 2}, 3)});
    expect_pass([op](const V& in) { return op(ag::transpose(in[0], 0, 1), in[1]); },
                {randn({3, 2}, 4), positive({2, 3}, 5)});
  }
}

TEST_CASE("gradcheck scalar ops, gelu, silu", "[gradcheck]") {
  for (const Shape& s : {Shape{5}, Shape{2, 3}, Shape{1, 1, 4}}) {
    expect_pass([](const V& in) { return ag::add_scalar(in[0], 0.5); }, {randn(s, 1)});
    expect_pass([](const V& in) { return ag::mul_scalar(in[0], -1.5); }, {randn(s, 2)});
    expect_pass([](const V& in) { return ag::gelu(in[0]); }, {mul_scalar(randn(s, 3), 2.0)});
    expect_pass([](const V& in) { return ag::silu(in[0]); }, {mul_scalar(randn(s, 4), 2.0)});
  }
  expect_pass([](const V& in) { return ag::gelu(ag::transpose(in[0], 0, 1)); }, {randn({2, 3}, 5)});
  expect_pass([](const V& in) { return ag::silu(ag::slice(in[0], 1, 0, 4, 2)); },
              {randn({2, 4}, 6)});
}

TEST_CASE("gradcheck sum and mean", "[gradcheck]") {
  for (const Shape& s : {Shape{4}, Shape{2, 3}, Shape{2, 1, 3}})
    for (int64_t axis = -1; axis < static_cast<int64_t>(s.size()); ++axis)
      for (bool keep : {false, true}) {
        expect_pass([axis, keep](const V& in) { return ag::sum(in[0], axis, keep); },
                    {randn(s, 1)});
        expect_pass([axis, keep](const V& in) { return ag::mean(in[0], axis, keep); },
                    {randn(s, 2)});
      }
  for (const Shape& s : {Shape{1}, Shape{2, 3}, Shape{2, 1, 3}}) {
    expect_pass([](const V& in) { return ag::sum_all(in[0]); }, {randn(s, 3)});
    expect_pass([](const V& in) { return ag::mean_all(in[0]); }, {randn(s, 4)});
  }
  expect_pass([](const V& in) { return ag::sum(ag::transpose(in[0], 0, 1), 1); },
              {randn({3, 2}, 5)});
}

TEST_CASE("gradcheck reshape, transpose, slice", "[gradcheck]") {
  expect_pass([](const V& in) { return ag::reshape(in[0], {3, 2}); }, {randn({2, 3}, 1)});
  expect_pass([](const V& in) { return ag::reshape(ag::transpose(in[0], 0, 1), {-1}); },
              {randn({2, 3}, 2)});
  expect_pass([](const V& in) { return ag::transpose(in[0], 0, 2); }, {randn({2, 1, 3}, 3)});
  expect_pass([](const V& in) { return ag::slice(in[0], 1, 1, 5, 2); }, {randn({2, 6}, 4)});
  expect_pass([](const V& in) { return ag::slice(in[0], 0, 0, 1); }, {randn({3, 2}, 5)});
  // two overlapping slices of the same input
  expect_pass(
      [](const V& in) { return ag::mul(ag::slice(in[0], 0, 0, 2), ag::slice(in[0], 0, 1, 3)); },
      {randn({3, 2}, 6)});
}

TEST_CASE("gradcheck embedding", "[gradcheck]") {
  const std::vector<int32_t> ids = {0, 2, 2, 4};  // a repeated id must get both grads
  expect_pass([&ids](const V& in) { return ag::embedding(in[0], ids); }, {randn({5, 3}, 1)});
  const std::vector<int32_t> one = {0};
  expect_pass([&one](const V& in) { return ag::embedding(in[0], one); }, {randn({1, 1}, 2)});
  const std::vector<int32_t> ids2 = {1, 1, 0};
  expect_pass(
      [&ids2](const V& in) {
        return ag::mul(ag::embedding(in[0], ids2), ag::embedding(in[0], ids2));
      },
      {randn({2, 4}, 3)});
}

TEST_CASE("gradcheck layer_norm and rms_norm", "[gradcheck]") {
  for (const Shape& s : {Shape{3, 4}, Shape{2, 2, 5}, Shape{1, 2}}) {
    const Shape p{s.back()};
    expect_pass([](const V& in) { return ag::layer_norm(in[0], in[1], in[2]); },
                {randn(s, 1), randn(p, 2), randn(p, 3)});
    expect_pass([](const V& in) { return ag::rms_norm(in[0], in[1]); }, {randn(s, 4), randn(p, 5)});
  }
  expect_pass([](const V& in) { return ag::layer_norm(ag::transpose(in[0], 0, 1), in[1], in[2]); },
              {randn({4, 3}, 6), randn({4}, 7), randn({4}, 8)});
  expect_pass([](const V& in) { return ag::layer_norm(in[0], in[1], Var()); },
              {randn({2, 3}, 9), randn({3}, 10)});
}

TEST_CASE("gradcheck softmax", "[gradcheck]") {
  for (const Shape& s : {Shape{4}, Shape{2, 3}, Shape{2, 1, 1}})
    expect_pass([](const V& in) { return ag::softmax(in[0]); }, {randn(s, 1)});
  expect_pass([](const V& in) { return ag::softmax(ag::transpose(in[0], 0, 1)); },
              {randn({3, 2}, 2)});
}

TEST_CASE("gradcheck scaled_dot_product_attention", "[gradcheck]") {
  for (bool causal : {true, false})
    for (const Shape& s : {Shape{1, 1, 1, 2}, Shape{1, 2, 3, 2}, Shape{2, 1, 4, 3}})
      expect_pass(
          [causal](const V& in) {
            return ag::scaled_dot_product_attention(in[0], in[1], in[2], causal);
          },
          {randn(s, 1), randn(s, 2), randn(s, 3)});
  // q = k = v: one input used three times
  expect_pass([](const V& in) { return ag::scaled_dot_product_attention(in[0], in[0], in[0]); },
              {randn({1, 1, 3, 2}, 4)});
}

TEST_CASE("gradcheck causal_self_attention", "[gradcheck]") {
  expect_pass([](const V& in) { return ag::causal_self_attention(in[0], 1); },
              {randn({1, 1, 6}, 1)});
  expect_pass([](const V& in) { return ag::causal_self_attention(in[0], 2); },
              {randn({2, 3, 12}, 2)});
  expect_pass([](const V& in) { return ag::causal_self_attention(in[0], 3); },
              {randn({1, 4, 9}, 3)});
}

TEST_CASE("gradcheck cross_entropy", "[gradcheck]") {
  const std::vector<int32_t> t1 = {1, 0, 3};
  expect_pass([&t1](const V& in) { return ag::cross_entropy(in[0], t1); }, {randn({3, 4}, 1)});
  const std::vector<int32_t> t2 = {4, -1, 0, -1};  // two ignored positions
  expect_pass([&t2](const V& in) { return ag::cross_entropy(in[0], t2); }, {randn({2, 2, 5}, 2)});
  const std::vector<int32_t> t3 = {0};
  expect_pass([&t3](const V& in) { return ag::cross_entropy(in[0], t3, 7); }, {randn({1, 2}, 3)});
  const std::vector<int32_t> t4 = {2, 2};
  expect_pass([&t4](const V& in) { return ag::cross_entropy(ag::transpose(in[0], 0, 1), t4); },
              {randn({3, 2}, 4)});
}

TEST_CASE("gradcheck dropout", "[gradcheck]") {
  for (const Shape& s : {Shape{6}, Shape{2, 3}, Shape{1, 1, 5}})
    expect_pass(
        [](const V& in) {
          Rng rng(11);  // the same mask on every call
          return ag::dropout(in[0], 0.5, rng, true);
        },
        {randn(s, 1)});
}
