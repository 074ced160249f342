// Tests for reductions (sum, mean, max, argmax on every axis, negative axes, keepdim),
// sum_all, sum_to_shape (the adjoint of broadcasting), softmax / log_softmax, and the
// comparison helpers max_abs_diff / allclose.
#include <catch2/catch.hpp>
#include <cmath>

#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include "tensor_test_util.h"

using namespace cpurich;

using namespace cpurich::test;

TEST_CASE("sum and mean on every axis of a (2,3,4) tensor", "[reduce]") {
  const Tensor a = iota({2, 3, 4});  // a[i,j,k] = 12i + 4j + k
  // axis 0: a[0,j,k] + a[1,j,k] = 8j + 2k + 12
  Tensor s0 = sum(a, 0);
  REQUIRE(s0.shape() == Shape{3, 4});
  for (int64_t j = 0; j < 3; ++j)
    for (int64_t k = 0; k < 4; ++k) CHECK(s0.at({j, k}) == 8 * j + 2 * k + 12);
  // axis 1: sum_j = 3*(12i + k) + 4*(0+1+2) = 36i + 3k + 12
  Tensor s1 = sum(a, -2, true);
  REQUIRE(s1.shape() == Shape{2, 1, 4});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 4; ++k) CHECK(s1.at({i, 0, k}) == 36 * i + 3 * k + 12);
  // axis 2 (= -1): 4*(12i + 4j) + 6
  CHECK(sum(a, -1).to_vector() == vec({6, 22, 38, 54, 70, 86}));
  CHECK(sum(a, 2).to_vector() == sum(a, -1).to_vector());
  CHECK(mean(a, -1).to_vector() == vec({1.5, 5.5, 9.5, 13.5, 17.5, 21.5}));
  CHECK(mean(a, 0, true).shape() == Shape{1, 3, 4});
  CHECK(mean(a, 0).at({2, 3}) == (11.0 + 23.0) / 2);
  CHECK_THROWS_WITH(sum(a, 3), Catch::Contains("axis 3") && Catch::Contains("(2, 3, 4)"));
  CHECK_THROWS_AS(mean(a, -4), std::out_of_range);
}

TEST_CASE("reductions accept strided inputs and f64", "[reduce]") {
  const Tensor a = iota({3, 4}, DType::F64).transpose(0, 1);  // (4,3): a[i,j] = 4j + i
  CHECK(sum(a, 1).to_vector() == vec({12, 15, 18, 21}));
  CHECK(sum(a, 0).to_vector() == vec({6, 22, 38}));
  CHECK(sum(a, 0).dtype() == DType::F64);
  const Tensor e = f32({1, 2}, {2, 1}).expand({2, 5});
  CHECK(sum(e, 1).to_vector() == vec({5, 10}));
  CHECK(sum(Tensor::ones({2, 0}), 1).to_vector() == vec({0, 0}));
  CHECK(std::isnan(mean(Tensor::ones({1, 0}), 1).item()));  // 0/0, as NumPy
}

TEST_CASE("max and argmax: first maximum, every axis, keepdim", "[reduce]") {
  const Tensor a = f32({3, 7, 7, 1,   //
                        9, 2, 9, 9},  //
                       {2, 4});
  CHECK(max(a, 1).to_vector() == vec({7, 9}));
  CHECK(argmax(a, 1).to_vector() == vec({1, 0}));  // ties: the first index
  CHECK(argmax(a, -1).dtype() == DType::I64);
  CHECK(max(a, 0).to_vector() == vec({9, 7, 9, 9}));
  CHECK(argmax(a, 0).to_vector() == vec({1, 0, 1, 1}));
  CHECK(argmax(a, 0, true).shape() == Shape{1, 4});
  CHECK(max(a.transpose(0, 1), 0).to_vector() == vec({7, 9}));
  const Tensor n = f32({1, NAN, 5}, {3});  // NaN counts as the maximum, as in NumPy
  CHECK(std::isnan(max(n, 0).item()));
  CHECK(argmax(n, 0).item() == 1.0);
  CHECK_THROWS_AS(max(Tensor::ones({2, 0}), 1), ShapeError);
  CHECK(max(f32({-INFINITY, -3}, {2}), 0).item() == -3.0);
}

TEST_CASE("sum_all", "[reduce]") {
  CHECK(sum_all(iota({3, 4})).item() == 66.0);
  CHECK(sum_all(iota({3, 4})).shape() == Shape{});
  CHECK(sum_all(iota({3, 4}).transpose(0, 1).slice(0, 0, 4, 2)).item() == 0 + 4 + 8 + 2 + 6 + 10);
  CHECK(sum_all(Tensor::zeros({0})).item() == 0.0);
  CHECK(sum_all(Tensor::scalar(2.5, DType::F64)).item() == 2.5);
  // f32 sums accumulate in double: 1e8 + 1 + ... + 1 would lose every 1 in float.
  Tensor t = Tensor::ones({1001});
  t.set({0}, 1e8);
  CHECK(sum_all(t).item() == 1e8 + 1000);
}

TEST_CASE("sum_to_shape is the adjoint of broadcasting", "[reduce][broadcast]") {
  const Tensor g = iota({2, 3, 4});
  CHECK(sum_to_shape(g, {2, 3, 4}).to_vector() == g.to_vector());
  CHECK_FALSE(sum_to_shape(g, {2, 3, 4}).shares_storage_with(g));
  CHECK(sum_to_shape(g, {4}).to_vector() == sum(sum(g, 0), 0).to_vector());
  // row j: sum_{i,k} (12i + 4j + k) = 48 + 32j + 12
  CHECK(sum_to_shape(g, {3, 1}).to_vector() == vec({60, 92, 124}));
  CHECK(sum_to_shape(g, {3, 1}).shape() == Shape{3, 1});
  CHECK(sum_to_shape(g, {2, 1, 4}).to_vector() == sum(g, 1, true).to_vector());
  CHECK(sum_to_shape(g, {}).item() == 276.0);
  CHECK(sum_to_shape(g, {1, 1, 1}).item() == 276.0);
  // <broadcast(x), g> == <x, sum_to_shape(g)> for any x: the defining property.
  const Tensor x = f32({1, -2, 3}, {3, 1});
  const double lhs = sum_all(mul(x.expand({2, 3, 4}), g)).item();
  const double rhs = sum_all(mul(x, sum_to_shape(g, {3, 1}))).item();
  CHECK(lhs == rhs);
  CHECK_THROWS_WITH(sum_to_shape(g, {3}), Catch::Contains("(2, 3, 4)") && Catch::Contains("(3,)"));
  CHECK_THROWS_AS(sum_to_shape(g, {1, 2, 3, 4}), ShapeError);
}

TEST_CASE("softmax and log_softmax match hand values", "[softmax]") {
  // softmax(0, ln 2, ln 3) = (1, 2, 3) / 6
  const Tensor x =
      Tensor::from_vector(std::vector<double>{0, std::log(2.0), std::log(3.0)}, {1, 3});
  const Tensor s = softmax(x);
  // f64 with a handful of roundings: 1e-15 is a few ulps of values near 0.5.
  CHECK(s.at({0, 0}) == Approx(1.0 / 6).margin(1e-15));
  CHECK(s.at({0, 1}) == Approx(2.0 / 6).margin(1e-15));
  CHECK(s.at({0, 2}) == Approx(3.0 / 6).margin(1e-15));
  const Tensor ls = log_softmax(x);
  CHECK(ls.at({0, 0}) == Approx(-std::log(6.0)).margin(1e-15));
  CHECK(ls.at({0, 2}) == Approx(std::log(0.5)).margin(1e-15));
  // Uniform rows give 1/n.
  CHECK(softmax(Tensor::zeros({2, 4})).to_vector() == std::vector<double>(8, 0.25));
}

TEST_CASE("softmax rows sum to 1 and stay finite for large inputs", "[softmax]") {
  Rng rng(3);
  const Tensor x = mul_scalar(rng.normal({5, 7}), 4.0);
  const Tensor s = softmax(x);
  const Tensor row = sum(s, -1);
  // 7 f32 values each within 1 ulp (6e-8) of exact, summed: error well under 1e-6.
  for (int64_t r = 0; r < 5; ++r) CHECK(std::fabs(row.at({r}) - 1.0) < 1e-6);
  // exp(1000) overflows; the max-shift keeps everything finite.
  const Tensor big = f32({1000, 999, 998, -1000}, {1, 4});
  const Tensor sb = softmax(big), lb = log_softmax(big);
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  // f32 results: relative error within a few f32 ulps (1.2e-7 each).
  CHECK(sb.at({0, 0}) == Approx(1 / z).epsilon(1e-6));
  CHECK(sb.at({0, 3}) == 0.0);  // exp(-2000) underflows to exactly 0
  CHECK(lb.at({0, 1}) == Approx(-1 - std::log(z)).epsilon(1e-6));
  CHECK(lb.at({0, 3}) == Approx(-2000 - std::log(z)).epsilon(1e-6));
  for (double v : lb.to_vector()) CHECK(std::isfinite(v));
  // log_softmax == log(softmax) where the latter does not underflow.
  CHECK(allclose(log_softmax(x), log(softmax(x)), 1e-5, 1e-6));
}

TEST_CASE("softmax over the last axis of strided 3-d input", "[softmax]") {
  const Tensor a = iota({2, 3, 4}).transpose(1, 2);  // (2,4,3)
  const Tensor s = softmax(a);
  REQUIRE(s.shape() == Shape{2, 4, 3});
  // Each row is (c, c+4, c+8): softmax = exp(0,4,8)/sum, the same for every row.
  const double z = 1 + std::exp(4.0) + std::exp(8.0);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      CHECK(s.at({i, j, 2}) == Approx(std::exp(8.0) / z).epsilon(1e-6));
  CHECK_THROWS_AS(softmax(Tensor::scalar(1.0)), ShapeError);
  CHECK(softmax(Tensor::zeros({3, 0})).shape() == Shape{3, 0});
}

TEST_CASE("max_abs_diff and allclose", "[compare]") {
  const Tensor a = f32({1, 2, 3}, {3}), b = f32({1, 2.5f, 2}, {3});
  CHECK(max_abs_diff(a, b) == 1.0);
  CHECK(max_abs_diff(a, a.to(DType::F64)) == 0.0);
  CHECK_THROWS_WITH(max_abs_diff(a, Tensor::ones({1, 3})),
                    Catch::Contains("(3,)") && Catch::Contains("(1, 3)"));
  CHECK(std::isnan(max_abs_diff(a, f32({1, NAN, 3}, {3}))));
  CHECK(max_abs_diff(f32({INFINITY}, {1}), f32({INFINITY}, {1})) == 0.0);
  CHECK(allclose(a, a));
  CHECK_FALSE(allclose(a, b));
  CHECK(allclose(a, b, 0.0, 1.0));
  CHECK_FALSE(allclose(a, Tensor::ones({1, 3})));
  CHECK_FALSE(allclose(f32({NAN}, {1}), f32({NAN}, {1})));
}

// Reductions split outputs across threads, never one sum: bitwise equal results.
TEST_CASE("reductions and softmax are identical at 1, 2, 3 threads", "[reduce][threads]") {
  Rng rng(11);
  const Tensor x = rng.normal({40, 30, 50});  // 60000 elements: the parallel path
  const int before = num_threads();
  set_num_threads(1);
  const Tensor r0 = sum(x, 0), r1 = mean(x, 1), r2 = max(x, 2), s = softmax(x);
  const Tensor st = sum_to_shape(x, {30, 1});
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    CHECK(max_abs_diff(sum(x, 0), r0) == 0.0);
    CHECK(max_abs_diff(mean(x, 1), r1) == 0.0);
    CHECK(max_abs_diff(max(x, 2), r2) == 0.0);
    CHECK(max_abs_diff(softmax(x), s) == 0.0);
    CHECK(max_abs_diff(sum_to_shape(x, {30, 1}), st) == 0.0);
  }
  set_num_threads(before);
  // And sum along an axis equals a naive double loop in order k = 0..L-1.
  for (int64_t j = 0; j < 30; j += 7)
    for (int64_t k = 0; k < 50; k += 9) {
      double acc = 0;
      for (int64_t i = 0; i < 40; ++i) acc += x.at({i, j, k});
      CHECK(r0.at({j, k}) == static_cast<float>(acc));
    }
}
