// test_gemm_kernels.cpp: every step of the matmul staircase against naive.
//
// The raw-pointer kernels are checked on odd shapes (1, primes, sizes that cross
// the MR/NR/MC/KC/NC block edges), all four transpose combinations, alpha/beta,
// and leading dimensions larger than the rows (the padding holds NaN, so a
// kernel that reads it fails). packed_mt must give the same bits for any
// thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tensor/matmul.h"
#include "tensor/matmul_packed.h"
#include "tensor/parallel.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// One test problem: storage for A, B, C with padded leading dimensions.
struct Problem {
  GemmArgs g;
  std::vector<float> a, b, c0;  // c0: C before the call (beta * c0 is added)
};

Problem make_problem(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta,
                     int64_t pad, uint32_t seed) {
  Problem p;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  auto fill = [&](std::vector<float>& v, int64_t rows, int64_t cols, int64_t ld) {
    v.assign(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), kNaN);  // padding = NaN
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) v[r * ld + c] = dist(rng);
  };
  fill(p.a, a_rows, a_cols, lda);
  fill(p.b, b_rows, b_cols, ldb);
  fill(p.c0, m, n, ldc);
  p.g = GemmArgs{.trans_a = ta,
                 .trans_b = tb,
                 .m = m,
                 .n = n,
                 .k = k,
                 .alpha = alpha,
                 .a = p.a.data(),
                 .lda = lda,
                 .b = p.b.data(),
                 .ldb = ldb,
                 .beta = beta,
                 .ldc = ldc};
  return p;
}

// Runs `kernel` on a copy of c0 and returns C.
std::vector<float> run(const Problem& p, MatmulKernel kernel) {
  std::vector<float> c = p.c0;
  GemmArgs g = p.g;
  g.c = c.data();
  gemm(kernel, g);
  return c;
}

// Checks `got` against naive element by element. Tolerance: a K-term fp32 dot
// product computed in any order is within gamma_K * sum_p |a_ip||b_pj| of the
// exact value, gamma_K ~ K*u (u = eps/2 unit roundoff). Two kernels can each be
// off by that much in opposite directions, plus one rounding each for the alpha
// and beta terms, so |got - ref| <= (K + 2) * eps * (|alpha| S + |beta c0|).
void check_close(const Problem& p, const std::vector<float>& got, const std::vector<float>& ref) {
  const GemmArgs& g = p.g;
  const double eps = std::numeric_limits<float>::epsilon();
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double s = 0.0;
      for (int64_t q = 0; q < g.k; ++q) {
        const double a = g.trans_a ? g.a[q * g.lda + i] : g.a[i * g.lda + q];
        const double b = g.trans_b ? g.b[j * g.ldb + q] : g.b[q * g.ldb + j];
        s += std::fabs(a * b);
      }
      const double c0 = g.beta == 0.0f ? 0.0 : std::fabs(g.beta * p.c0[i * g.ldc + j]);
      const double tol = (g.k + 2) * eps * (std::fabs(g.alpha) * s + c0) + 1e-30;
      const double diff = std::fabs(double(got[i * g.ldc + j]) - ref[i * g.ldc + j]);
      if (!(diff <= tol)) {  // one REQUIRE per failure only: keeps the test fast
        INFO("C(" << i << "," << j << ") got " << got[i * g.ldc + j] << " ref "
                  << ref[i * g.ldc + j] << " tol " << tol);
        REQUIRE(diff <= tol);
      }
    }
  // The padding of C (columns n..ldc-1) must be untouched.
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = g.n; j < g.ldc; ++j)
      if (std::memcmp(&got[i * g.ldc + j], &p.c0[i * g.ldc + j], sizeof(float)) != 0)
        FAIL("padding C(" << i << "," << j << ") was written");
}

struct Dims {
  int64_t m, n, k;
};
// 1, primes, odd sizes, and sizes crossing MR (14/6/4), NR (32/16), MC (168),
// KC (256) and the skinny M == 1 / N == 1 paths.
const Dims kShapes[] = {{1, 1, 1},    {1, 37, 13},   {29, 1, 31},   {2, 3, 5},
                        {7, 11, 1},   {14, 32, 8},   {15, 33, 17},  {13, 31, 300},
                        {181, 67, 3}, {43, 97, 523}, {343, 19, 529}};

}  // namespace

TEST_CASE("every kernel matches naive on odd shapes, transposes, alpha/beta, padded ld") {
  uint32_t seed = 1;
  for (MatmulKernel kernel : available_kernels()) {
    if (kernel == MatmulKernel::Naive) continue;
    for (const Dims& d : kShapes)
      for (int t = 0; t < 4; ++t)
        for (int ab = 0; ab < 2; ++ab) {
          const float alpha = ab == 0 ? 1.0f : -0.75f, beta = ab == 0 ? 0.0f : 1.5f;
          const Problem p = make_problem(d.m, d.n, d.k, t & 1, t & 2, alpha, beta, ab * 3, seed++);
          INFO(kernel_name(kernel)
               << " m=" << d.m << " n=" << d.n << " k=" << d.k << " ta=" << (t & 1)
               << " tb=" << (t & 2) << " alpha=" << alpha << " beta=" << beta);
          check_close(p, run(p, kernel), run(p, MatmulKernel::Naive));
        }
  }
}

TEST_CASE("every microkernel this CPU supports matches naive") {
  for (const char* isa : {"portable", "avx2", "avx512"}) {
    detail::Microkernel mk;
    try {
      mk = detail::microkernel_for_isa(isa);
    } catch (const std::invalid_argument&) {
      continue;  // not on this CPU
    }
    uint32_t seed = 100;
    for (const Dims& d : kShapes)
      for (int t = 0; t < 4; ++t) {
        const Problem p = make_problem(d.m, d.n, d.k, t & 1, t & 2, 0.5f, -1.0f, 2, seed++);
        std::vector<float> c = p.c0;
        GemmArgs g = p.g;
        g.c = c.data();
        detail::packed_gemm(g, mk, 2);
        INFO(isa << " m=" << d.m << " n=" << d.n << " k=" << d.k << " t=" << t);
        check_close(p, c, run(p, MatmulKernel::Naive));
      }
  }
}

TEST_CASE("packed_mt gives the same bits for 1, 2, 3, 4 and 7 threads") {
  // Big enough to use a thread team (> 4M multiply-adds); crosses MC, KC and NR edges. Also the
  // threaded skinny path (M == 1 with a large K*N).
  const Dims shapes[] = {
      {181, 203, 300}, {300, 45, 400}, {347, 90, 520}, {1, 3000, 120}, {2500, 1, 130}};
  for (const Dims& d : shapes)
    for (int t = 0; t < 4; ++t) {
      const Problem p = make_problem(d.m, d.n, d.k, t & 1, t & 2, 1.0f, 0.5f, 1, 7 + t);
      set_num_threads(1);
      const std::vector<float> ref = run(p, MatmulKernel::PackedMT);
      const std::vector<float> single = run(p, MatmulKernel::Packed);
      REQUIRE(std::memcmp(single.data(), ref.data(), ref.size() * sizeof(float)) == 0);
      for (int threads : {2, 3, 4, 7}) {
        set_num_threads(threads);
        INFO("threads=" << threads << " m=" << d.m << " n=" << d.n << " k=" << d.k);
        const std::vector<float> got = run(p, MatmulKernel::PackedMT);
        REQUIRE(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)) == 0);
      }
    }
  set_num_threads(2);
}

TEST_CASE("packed_mt is right and bit-stable when N needs several B panels") {
  // K * N above the B panel cap (1 M floats): N = 1000 with K = 1100 is cut
  // into panels of 928 and 72 columns, and the team hands the panel buffer
  // from one to the next. M = 20 reads B in place (ragged last sliver only),
  // M = 30 packs it. Thread counts 1, 2 and 3 must give the same bits.
  for (int64_t m : {20, 30}) {
    const Problem p = make_problem(m, 1000, 1100, false, false, 1.0f, 0.5f, 1, 31);
    set_num_threads(1);
    const std::vector<float> ref = run(p, MatmulKernel::PackedMT);
    INFO("m=" << m);
    check_close(p, ref, run(p, MatmulKernel::Naive));
    for (int threads : {2, 3}) {
      set_num_threads(threads);
      const std::vector<float> got = run(p, MatmulKernel::PackedMT);
      REQUIRE(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)) == 0);
    }
  }
  set_num_threads(2);
}

TEST_CASE("beta == 0 never reads C, so NaN in C does not leak") {
  for (MatmulKernel kernel : available_kernels())
    for (const Dims& d : {Dims{1, 9, 5}, Dims{9, 1, 5}, Dims{19, 35, 7}, Dims{5, 6, 0}}) {
      Problem p = make_problem(d.m, d.n, d.k, false, false, 1.0f, 0.0f, 0, 3);
      std::fill(p.c0.begin(), p.c0.end(), kNaN);
      const std::vector<float> c = run(p, kernel);
      INFO(kernel_name(kernel) << " m=" << d.m << " n=" << d.n << " k=" << d.k);
      for (float v : c) REQUIRE(std::isfinite(v));
    }
}

TEST_CASE("K == 0 gives C = beta * C") {
  for (MatmulKernel kernel : available_kernels()) {
    Problem p = make_problem(3, 4, 0, false, false, 1.0f, 2.0f, 0, 5);
    const std::vector<float> c = run(p, kernel);
    for (size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == 2.0f * p.c0[i]);
  }
}

TEST_CASE("bad GEMM arguments throw with a clear message") {
  std::vector<float> a(12), b(12), c(12);
  GemmArgs g{.m = 3,
             .n = 4,
             .k = 3,
             .a = a.data(),
             .lda = 2,
             .b = b.data(),
             .ldb = 4,
             .c = c.data(),
             .ldc = 4};
  for (MatmulKernel kernel : available_kernels())
    REQUIRE_THROWS_WITH(gemm(kernel, g), Catch::Contains("lda=2"));
  g.lda = 3;
  g.m = -1;
  REQUIRE_THROWS_WITH(gemm(MatmulKernel::PackedMT, g), Catch::Contains("negative size"));
  REQUIRE_THROWS_WITH(kernel_from_name("fast"), Catch::Contains("packed_mt"));
}

TEST_CASE("kernel names round-trip") {
  for (MatmulKernel kernel : available_kernels())
    REQUIRE(kernel_from_name(kernel_name(kernel)) == kernel);
  REQUIRE(available_kernels().front() == MatmulKernel::Naive);
  const std::string isa = microkernel_isa();
  REQUIRE((isa == "avx512" || isa == "avx2" || isa == "portable"));
}

TEST_CASE("packed_mt called from inside a parallel region still computes all of C") {
  // A nested region runs serially: that one thread must do every share.
  const Problem p = make_problem(200, 170, 150, false, true, 1.0f, 0.0f, 0, 11);
  set_num_threads(2);
  const std::vector<float> ref = run(p, MatmulKernel::PackedMT);
  std::vector<float> nested;
  parallel_for(0, 2, [&](int64_t i) {
    if (i == 0) nested = run(p, MatmulKernel::PackedMT);
  });
  REQUIRE(std::memcmp(nested.data(), ref.data(), ref.size() * sizeof(float)) == 0);
}
