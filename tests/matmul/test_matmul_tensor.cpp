// test_matmul_tensor.cpp: the Tensor-level matmul (shapes, batching,
// broadcasting, views, F64, errors) against explicit loops.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "tensor/matmul.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

// op(x)(i, p) for a 2-D tensor: the transpose just swaps the index.
double op_at(const Tensor& x, bool trans, int64_t r, int64_t c) {
  return trans ? x.at({c, r}) : x.at({r, c});
}

// Checks got (M,N) == op(a) @ op(b) for 2-D a, b, computed here in double.
// Tolerance: a K-term fp32 dot product is within ~K*eps*sum|a||b| of the exact
// value (eps = fp32 machine epsilon; the inputs are exact in double). For F64
// inputs the kernel works in double, so we allow the same bound with eps_f64.
void check_2d(const Tensor& got, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const int64_t m = got.size(0), n = got.size(1), k = ta ? a.size(0) : a.size(1);
  const double eps = got.dtype() == DType::F64 ? std::numeric_limits<double>::epsilon()
                                               : std::numeric_limits<float>::epsilon();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0.0, abs_sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double prod = op_at(a, ta, i, p) * op_at(b, tb, p, j);
        exact += prod;
        abs_sum += std::fabs(prod);
      }
      const double tol = (k + 1) * eps * abs_sum + 1e-300;
      if (!(std::fabs(got.at({i, j}) - exact) <= tol)) {
        INFO("(" << i << "," << j << ") got " << got.at({i, j}) << " exact " << exact);
        REQUIRE(std::fabs(got.at({i, j}) - exact) <= tol);
      }
    }
}

// t broadcast to batch + its last two dims, viewed as (nb, rows, cols).
Tensor flatten_batch(const Tensor& t, const Shape& batch) {
  Shape full = batch;
  full.push_back(t.size(-2));
  full.push_back(t.size(-1));
  return t.expand(full).reshape({shape_numel(batch), t.size(-2), t.size(-1)});
}

}  // namespace

TEST_CASE("2-D matmul, all transposes, both dtypes, several kernels") {
  Rng rng(1);
  for (DType dt : {DType::F32, DType::F64})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t m = 13, k = 29, n = 37;
      const Tensor a = rng.uniform(ta ? Shape{k, m} : Shape{m, k}, -1, 1, dt);
      const Tensor b = rng.uniform(tb ? Shape{n, k} : Shape{k, n}, -1, 1, dt);
      for (MatmulKernel kernel :
           {MatmulKernel::Naive, MatmulKernel::Blocked, MatmulKernel::PackedMT}) {
        const Tensor c = matmul(a, b, ta, tb, kernel);
        REQUIRE(c.shape() == Shape{m, n});
        REQUIRE(c.dtype() == dt);
        check_2d(c, a, b, ta, tb);
      }
    }
}

TEST_CASE("non-contiguous inputs: transposed views cost no copy, strided ones are copied") {
  Rng rng(2);
  const Tensor base = rng.uniform({20, 24}, -1, 1);
  const Tensor at = base.transpose(0, 1);          // (24, 20), column-major view
  const Tensor strided = base.slice(1, 0, 24, 2);  // (20, 12), column stride 2
  const Tensor b = rng.uniform({20, 7}, -1, 1);
  check_2d(matmul(at, b), at, b, false, false);  // (24,20) @ (20,7)
  check_2d(matmul(base, b, true), base, b, true, false);
  const Tensor b2 = rng.uniform({12, 5}, -1, 1);
  check_2d(matmul(strided, b2), strided, b2, false, false);
  check_2d(matmul(b2.transpose(0, 1), strided, false, true), b2.transpose(0, 1), strided, false,
           true);  // (5,12) @ (20,12)^T
}

TEST_CASE("batched matmul with broadcasting and a shared 2-D b") {
  Rng rng(3);
  struct Case {
    Shape a, b, out;
    bool ta, tb;
  };
  const Case cases[] = {
      {{2, 3, 5, 4}, {2, 3, 4, 6}, {2, 3, 5, 6}, false, false},
      {{2, 1, 5, 4}, {3, 4, 6}, {2, 3, 5, 6}, false, false},  // broadcast batch dims
      {{4, 5, 7}, {7, 6}, {4, 5, 6}, false, false},           // Linear layer: b shared
      {{4, 1, 7}, {6, 7}, {4, 1, 6}, false, true},            // decode-like, W^T
      {{4, 7, 5}, {7, 6}, {4, 5, 6}, true, false},            // a^T per batch, b shared
      {{5, 4}, {2, 4, 6}, {2, 5, 6}, false, false},           // a shared
      {{3, 4, 5}, {3, 6, 4}, {3, 5, 6}, true, true},
  };
  for (const Case& c : cases)
    for (DType dt : {DType::F32, DType::F64}) {
      const Tensor a = rng.uniform(c.a, -1, 1, dt), b = rng.uniform(c.b, -1, 1, dt);
      const Tensor out = matmul(a, b, c.ta, c.tb);
      INFO("a " << shape_str(c.a) << " b " << shape_str(c.b) << " " << dtype_name(dt));
      REQUIRE(out.shape() == c.out);
      // Every output matrix must equal the 2-D product of its broadcast inputs.
      const Shape batch(c.out.begin(), c.out.end() - 2);
      const Tensor a3 = flatten_batch(a, batch), b3 = flatten_batch(b, batch);
      const Tensor o3 = flatten_batch(out, batch);
      const int64_t nb = o3.size(0);
      for (int64_t i = 0; i < nb; ++i)
        check_2d(o3.slice(0, i, i + 1).squeeze(0), a3.slice(0, i, i + 1).squeeze(0),
                 b3.slice(0, i, i + 1).squeeze(0), c.ta, c.tb);
    }
}

TEST_CASE("Tensor matmul gives the same bits for any thread count") {
  Rng rng(4);
  const Tensor a = rng.uniform({4, 100, 90}, -1, 1), b = rng.uniform({90, 160}, -1, 1);
  const Tensor h = rng.uniform({6, 40, 16}, -1, 1), k = rng.uniform({6, 40, 16}, -1, 1);
  set_num_threads(1);
  const Tensor ref = matmul(a, b), ref_att = matmul(h, k, false, true);
  for (int threads : {2, 3, 7}) {
    set_num_threads(threads);
    REQUIRE(matmul(a, b).to_vector() == ref.to_vector());
    REQUIRE(matmul(h, k, false, true).to_vector() == ref_att.to_vector());
  }
  set_num_threads(2);
}

TEST_CASE("matmul errors name both shapes") {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  REQUIRE_THROWS_AS(matmul(a, b), ShapeError);
  REQUIRE_THROWS_WITH(matmul(a, b), Catch::Contains("(2, 3)") && Catch::Contains("(4, 5)"));
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})),
                      Catch::Contains("(2, 2, 3)") && Catch::Contains("(3, 3, 4)"));
  REQUIRE_THROWS_AS(matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})), ShapeError);
  REQUIRE_THROWS_AS(matmul(a, Tensor::zeros({3, 2}, DType::F64)), std::invalid_argument);
}
