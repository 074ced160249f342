// Tests for the elementwise ops of ops.h: NumPy broadcasting (including its edge
// cases and its error messages), non-contiguous inputs, every unary/scalar op against
// values computed by hand, and the threaded path against a naive loop.
#include <catch2/catch.hpp>
#include <cmath>

#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include "tensor_test_util.h"

using namespace cpurich;

using namespace cpurich::test;

TEST_CASE("broadcast_shapes follows NumPy", "[ops][broadcast]") {
  CHECK(broadcast_shapes({1}, {3}) == Shape{3});
  CHECK(broadcast_shapes({2, 1, 4}, {3, 1}) == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {2, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes({2, 3}, {}) == Shape{2, 3});
  CHECK(broadcast_shapes({0, 1}, {1, 5}) == Shape{0, 5});
  CHECK(broadcast_shapes({5, 1, 0}, {3, 1}) == Shape{5, 3, 0});
  CHECK_THROWS_AS(broadcast_shapes({2}, {3}), ShapeError);
  CHECK_THROWS_AS(broadcast_shapes({2, 0}, {2, 3}), ShapeError);  // 0 is not 1
}

TEST_CASE("shape error messages name both shapes", "[ops][errors]") {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4});
  CHECK_THROWS_WITH(add(a, b), "add: cannot broadcast (2, 3) with (4,)");
  CHECK_THROWS_WITH(mul(b, a), "mul: cannot broadcast (4,) with (2, 3)");
  CHECK_THROWS_WITH(maximum(a, Tensor::ones({3, 1, 2})),
                    "maximum: cannot broadcast (2, 3) with (3, 1, 2)");
  CHECK_THROWS_AS(sub(a, Tensor::ones({2, 3}, DType::F64)), std::invalid_argument);
  CHECK_THROWS_WITH(add(a, Tensor::ones({2, 3}, DType::I64)), Catch::Contains("i64"));
  CHECK_THROWS_WITH(exp(Tensor::ones({2}, DType::I64)), Catch::Contains("exp"));
}

TEST_CASE("binary ops with broadcasting, computed by hand", "[ops][broadcast]") {
  const Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(add(a, f32({10, 20, 30}, {3})).to_vector() == vec({11, 22, 33, 14, 25, 36}));
  CHECK(sub(a, f32({1, 2}, {2, 1})).to_vector() == vec({0, 1, 2, 2, 3, 4}));
  CHECK(mul(a, Tensor::scalar(2.0)).to_vector() == vec({2, 4, 6, 8, 10, 12}));
  CHECK(div(Tensor::scalar(12.0), a).to_vector() == vec({12, 6, 4, 3, 2.4f, 2}));
  CHECK(maximum(a, f32({3.5f}, {1})).to_vector() == vec({3.5, 3.5, 3.5, 4, 5, 6}));
  // (1,) + (3,) -> (3,)
  CHECK(add(f32({1}, {1}), f32({1, 2, 3}, {3})).to_vector() == vec({2, 3, 4}));
  // (2,1,4) + (3,1) -> (2,3,4): out[i,j,k] = x[i,0,k] + y[j,0]
  const Tensor x = iota({2, 1, 4}), y = f32({100, 200, 300}, {3, 1});
  const Tensor z = add(x, y);
  REQUIRE(z.shape() == Shape{2, 3, 4});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) CHECK(z.at({i, j, k}) == 4 * i + k + 100 * (j + 1));
  // Scalar + scalar stays 0-d; size-0 dims give empty results.
  CHECK(add(Tensor::scalar(1.0), Tensor::scalar(2.0)).shape() == Shape{});
  CHECK(mul(Tensor::ones({0, 1}), Tensor::ones({1, 5})).shape() == Shape{0, 5});
}

TEST_CASE("binary ops on non-contiguous inputs", "[ops][views]") {
  const Tensor a = iota({3, 4});
  const Tensor at = a.transpose(0, 1);    // (4,3), strides (1,4)
  const Tensor as = a.slice(1, 0, 4, 2);  // (3,2): columns 0 and 2
  const Tensor ae = f32({1, 2, 3}, {3, 1}).expand({3, 2});
  CHECK(add(at, at).to_vector() == vec({0, 8, 16, 2, 10, 18, 4, 12, 20, 6, 14, 22}));
  CHECK(mul(as, ae).to_vector() == vec({0, 2, 8, 12, 24, 30}));
  // transposed + row vector: out[i,j] = a[j,i] + r[j]
  const Tensor r = f32({10, 20, 30}, {3});
  const Tensor o = add(at, r);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(o.at({i, j}) == a.at({j, i}) + r.at({j}));
  CHECK(o.is_contiguous());
  CHECK_FALSE(o.shares_storage_with(a));
}

TEST_CASE("scalar and unary ops, against the C library", "[ops][unary]") {
  const Tensor a = f32({-2, -0.5f, 0, 0.5f, 3}, {5});
  const std::vector<float> v = {-2, -0.5f, 0, 0.5f, 3};
  const Tensor r_add = add_scalar(a, 1.5), r_mul = mul_scalar(a, -2.0);
  const Tensor r_exp = exp(a), r_tanh = tanh(a), r_relu = relu(a), r_neg = neg(a);
  const Tensor r_sq = pow_scalar(a, 2.0), r_cube = pow_scalar(a, 3.0);
  for (int64_t i = 0; i < 5; ++i) {
    const float x = v[i];
    CHECK(r_add.at({i}) == x + 1.5f);
    CHECK(r_mul.at({i}) == x * -2.0f);
    CHECK(r_exp.at({i}) == std::exp(x));
    CHECK(r_tanh.at({i}) == std::tanh(x));
    CHECK(r_relu.at({i}) == (x > 0 ? x : 0.0f));
    CHECK(r_neg.at({i}) == -x);
    CHECK(r_sq.at({i}) == x * x);
    CHECK(r_cube.at({i}) == std::pow(x, 3.0f));
  }
  const Tensor p = f32({0.25f, 1, 4, 9}, {4});
  CHECK(sqrt(p).to_vector() == vec({0.5, 1, 2, 3}));
  CHECK(log(p).at({2}) == std::log(4.0f));
  CHECK(pow_scalar(p, 0.5).to_vector() == vec({0.5, 1, 2, 3}));
  CHECK(std::isnan(relu(f32({NAN}, {1})).item()));  // NaN is not silently zeroed
  CHECK(std::isnan(maximum(f32({1}, {1}), f32({NAN}, {1})).item()));
  // f64 inputs are computed in f64.
  const Tensor d = Tensor::full({2}, 0.1, DType::F64);
  CHECK(add_scalar(d, 0.2).at({0}) == 0.1 + 0.2);
  CHECK(exp(d).dtype() == DType::F64);
}

TEST_CASE("unary ops on strided inputs and scalars", "[ops][unary]") {
  const Tensor a = iota({3, 4}).transpose(0, 1).slice(0, 1, 4, 2);  // (2,3) non-contiguous
  CHECK(neg(a).to_vector() == vec({-1, -5, -9, -3, -7, -11}));
  CHECK(mul_scalar(Tensor::scalar(4.0), 0.5).item() == 2.0);
  CHECK(add_scalar(Tensor::ones({0, 3}), 1.0).shape() == Shape{0, 3});
}

// A large broadcast add must take the parallel path and still match the naive loop
// exactly (each output is one rounding of x + y, whoever computes it).
TEST_CASE("threaded elementwise matches a naive loop at 1, 2, 3 threads", "[ops][threads]") {
  Rng rng(7);
  const Tensor x = rng.normal({300, 257});                   // 77100 elements > threshold
  const Tensor y = rng.normal({257});                        // broadcast row
  const Tensor xt = rng.normal({257, 300}).transpose(0, 1);  // strided
  Tensor ref = Tensor::empty({300, 257});
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 257; ++j)
      ref.set({i, j}, static_cast<float>(x.at({i, j})) * static_cast<float>(xt.at({i, j})) +
                          static_cast<float>(y.at({j})));
  const int before = num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    const Tensor out = add(mul(x, xt), y);
    CHECK(max_abs_diff(out, ref) == 0.0);
  }
  set_num_threads(before);
}

namespace {
// Naive reference: out[idx] = f(a[bidx_a], b[bidx_b]) with broadcasting done by hand on
// row-major value lists (no strides, no views, no shared code with the kernels).
template <typename F>
std::vector<double> naive_binary(const Tensor& a, const Tensor& b, const Shape& out_shape, F f) {
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  const int64_t n = shape_numel(out_shape), nd = static_cast<int64_t>(out_shape.size());
  std::vector<double> out(static_cast<std::size_t>(n));
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rem = flat, ia = 0, ib = 0, mul_a = 1, mul_b = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
      const int64_t i = rem % out_shape[d];
      rem /= out_shape[d];
      const int64_t da = d - (nd - a.dim()), db = d - (nd - b.dim());
      if (da >= 0) {
        const int64_t sa = a.shape()[da];
        ia += (sa == 1 ? 0 : i) * mul_a;
        mul_a *= sa;
      }
      if (db >= 0) {
        const int64_t sb = b.shape()[db];
        ib += (sb == 1 ? 0 : i) * mul_b;
        mul_b *= sb;
      }
    }
    out[flat] = f(static_cast<float>(va[ia]), static_cast<float>(vb[ib]));
  }
  return out;
}

// A random view of a random tensor with the given shape: sometimes transposed
// (materialised through a permuted base), sometimes a stepped slice of a larger base.
Tensor random_view(Rng& rng, const Shape& shape) {
  switch (rng.below(3)) {
    case 0:
      return rng.normal(shape);
    case 1: {  // base is the reversed-dims tensor, viewed back through a permutation
      Shape rev(shape.rbegin(), shape.rend());
      std::vector<int64_t> order(shape.size());
      for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = static_cast<int64_t>(shape.size() - 1 - i);
      return rng.normal(rev).permute(order);
    }
    default: {  // every other element along the last dim
      if (shape.empty()) return rng.normal(shape);
      Shape big = shape;
      big.back() = 2 * shape.back();
      return rng.normal(big).slice(-1, 0, big.back(), 2);
    }
  }
}
}  // namespace

TEST_CASE("random broadcast shapes and views match the naive reference", "[ops][broadcast]") {
  Rng rng(123);
  for (int trial = 0; trial < 200; ++trial) {
    // Random output shape of rank 0..4 with dims 1..4; each input drops some leading
    // dims and sets some dims to 1.
    const auto rank = static_cast<int64_t>(rng.below(5));
    Shape out(rank);
    for (auto& d : out) d = 1 + static_cast<int64_t>(rng.below(4));
    auto input_shape = [&] {
      Shape s(out.begin() + static_cast<int64_t>(rng.below(rank + 1)), out.end());
      for (auto& d : s)
        if (rng.below(3) == 0) d = 1;
      return s;
    };
    const Tensor a = random_view(rng, input_shape()), b = random_view(rng, input_shape());
    const Shape os = broadcast_shapes(a.shape(), b.shape());
    INFO("a " << shape_str(a.shape()) << " b " << shape_str(b.shape()));
    CHECK(add(a, b).to_vector() == naive_binary(a, b, os, [](float x, float y) { return x + y; }));
    CHECK(mul(a, b).to_vector() == naive_binary(a, b, os, [](float x, float y) { return x * y; }));
    CHECK(maximum(a, b).to_vector() ==
          naive_binary(a, b, os, [](float x, float y) { return x >= y ? x : y; }));
  }
}
