// Bad inputs must give a clear exception naming the problem, never a crash.
#include <catch2/catch.hpp>

#include "autograd/ops.h"

using namespace cpurich;
using Catch::Matchers::Contains;

namespace {
Var leaf(const Shape& s, DType dtype = DType::F32) {
  return Var(Tensor::ones(s, dtype), true);
}
}  // namespace

TEST_CASE("shape mismatches name both shapes", "[errors]") {
  CHECK_THROWS_WITH(ag::add(leaf({2, 3}), leaf({4})), Contains("(2, 3)") && Contains("(4,)"));
  CHECK_THROWS_AS(ag::mul(leaf({2, 3}), leaf({3, 2})), ShapeError);
  CHECK_THROWS_WITH(ag::matmul(leaf({2, 3}), leaf({4, 5})),
                    Contains("(2, 3)") && Contains("(4, 5)"));
  CHECK_THROWS_AS(ag::matmul(leaf({2, 3}, DType::F64), leaf({4, 5}, DType::F64)), ShapeError);
  CHECK_THROWS_WITH(ag::linear(leaf({2, 3}), leaf({4, 5}), Var()),
                    Contains("(2, 3)") && Contains("(4, 5)"));
  CHECK_THROWS_AS(ag::linear(leaf({2, 4}), leaf({4, 5}), leaf({4})), ShapeError);
  CHECK_THROWS_AS(ag::layer_norm(leaf({2, 4}), leaf({3}), leaf({4})), ShapeError);
  CHECK_THROWS_AS(ag::rms_norm(leaf({2, 4}), leaf({4, 1})), ShapeError);
  CHECK_THROWS_AS(ag::causal_self_attention(leaf({2, 3, 10}), 2), ShapeError);  // 10 % 3 != 0
  CHECK_THROWS_AS(ag::causal_self_attention(leaf({2, 3, 12}), 3), ShapeError);  // C=4, 3 heads
  CHECK_THROWS_AS(
      ag::scaled_dot_product_attention(leaf({1, 1, 2, 2}), leaf({1, 1, 3, 2}), leaf({1, 1, 2, 2})),
      ShapeError);
}

TEST_CASE("mixed dtypes are rejected", "[errors]") {
  CHECK_THROWS_AS(ag::add(leaf({2}), leaf({2}, DType::F64)), ShapeError);
  CHECK_THROWS_AS(ag::linear(leaf({2, 2}), leaf({2, 2}, DType::F64), Var()), ShapeError);
}

TEST_CASE("embedding rejects an out-of-range id and names it", "[errors]") {
  const Var w = leaf({5, 3});
  const std::vector<int32_t> bad = {1, 5, 0};
  CHECK_THROWS_AS(ag::embedding(w, bad), std::out_of_range);
  CHECK_THROWS_WITH(ag::embedding(w, bad), Contains("id 5") && Contains("position 1"));
  const std::vector<int32_t> negative = {-1};
  CHECK_THROWS_AS(ag::embedding(w, negative), std::out_of_range);
}

TEST_CASE("cross_entropy rejects all-ignored and out-of-range targets", "[errors]") {
  const Var logits = leaf({3, 4});
  const std::vector<int32_t> ignored = {-1, -1, -1};
  CHECK_THROWS_AS(ag::cross_entropy(logits, ignored), std::invalid_argument);
  CHECK_THROWS_WITH(ag::cross_entropy(logits, ignored), Contains("ignore_index"));
  const std::vector<int32_t> too_big = {0, 4, 1};
  CHECK_THROWS_WITH(ag::cross_entropy(logits, too_big), Contains("target 4"));
  const std::vector<int32_t> wrong_count = {0, 1};
  CHECK_THROWS_AS(ag::cross_entropy(logits, wrong_count), ShapeError);
}

TEST_CASE("dropout rejects p outside the range 0 to 1", "[errors]") {
  Rng rng(1);
  CHECK_THROWS_AS(ag::dropout(leaf({3}), 1.0, rng, true), std::invalid_argument);
  CHECK_THROWS_AS(ag::dropout(leaf({3}), -0.1, rng, true), std::invalid_argument);
}

TEST_CASE("undefined Vars are reported, not dereferenced", "[errors]") {
  CHECK_THROWS_AS(ag::add(Var(), leaf({1})), std::logic_error);
  CHECK_THROWS_AS(Var().value(), std::logic_error);
  CHECK_THROWS_AS(Var().backward(), std::logic_error);
}
