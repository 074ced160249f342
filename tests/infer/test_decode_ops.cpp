// The decode kernels against their references: attend vs attend_naive, the
// KV cache's blocked key layout. (GELU and softmax: tests/tensor/test_kernels.cpp.)

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "infer/decode_ops.h"
#include "infer/kv_cache.h"
#include "tensor/rng.h"

using namespace cpurich;

namespace {

std::vector<float> random_vector(int64_t n, uint64_t seed, double std = 1.0) {
  const Tensor t = Rng(seed).normal({n}, 0.0, std);
  return {t.span_f32().begin(), t.span_f32().end()};
}

}  // namespace

TEST_CASE("KVCache put stores keys in blocks of 64 positions and values as rows") {
  // capacity 130: two full key blocks and a partial third; 2 layers x 3 heads
  // so a wrong stride would make heads overwrite each other.
  const int64_t L = 2, H = 3, d = 5, cap = 130, B = KVCache::kKeyBlock;
  KVCache cache(KVCacheShape{.n_layer = L, .n_head = H, .head_dim = d, .capacity = cap});
  auto key = [](int64_t l, int64_t h, int64_t j, int64_t i) {
    return static_cast<float>(((l * 10 + h) * 1000 + j) * 10 + i);
  };
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < cap; ++j) {
        std::vector<float> k(d), v(d);
        for (int64_t i = 0; i < d; ++i) k[i] = key(l, h, j, i), v[i] = -key(l, h, j, i);
        cache.put(l, h, j, k.data(), v.data());
      }
  int bad = 0;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < cap; ++j)
        for (int64_t i = 0; i < d; ++i) {
          bad += cache.keys(l, h)[(j / B * d + i) * B + j % B] != key(l, h, j, i);
          bad += cache.values(l, h)[j * d + i] != -key(l, h, j, i);
        }
  CHECK(bad == 0);
}

TEST_CASE("attend matches the naive attention") {
  // n around the 64-position block and the 4-way split (partial blocks,
  // n % 4 != 0); d = 40 leaves a partial 32-output tile.
  for (const int64_t d : {16, 32, 40}) {
    for (const int64_t n : {1, 3, 63, 64, 65, 130}) {
      KVCache cache(KVCacheShape{.n_layer = 1, .n_head = 1, .head_dim = d, .capacity = 130});
      const auto k = random_vector(n * d, 1), v = random_vector(n * d, 2);
      const auto q = random_vector(d, 3, 2.0);  // std 2: a peaked softmax too
      for (int64_t j = 0; j < n; ++j) cache.put(0, 0, j, &k[j * d], &v[j * d]);
      std::vector<float> scores(n), fast(d), ref(d);
      attend(q.data(), cache.keys(0, 0), cache.values(0, 0), n, d, scores.data(), fast.data());
      attend_naive(q.data(), cache.keys(0, 0), cache.values(0, 0), n, d, scores.data(), ref.data());
      // The scores are the same bits (same order over i) and both run the
      // same softmax_row, so only the order of sum_j p_j v_j differs (each
      // <= n eps relative to the sum of |terms|, eps = 2^-24) and a few
      // roundings: |fast - ref| <= (2n + 4) eps * sum_j p_j |v_j|; we allow
      // 2x that. A wrong position, scale or block offset is off by O(|v|).
      std::vector<double> p(n);
      double mx = -INFINITY, total = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (int64_t i = 0; i < d; ++i) s += static_cast<double>(q[i]) * k[j * d + i];
        p[j] = s / std::sqrt(static_cast<double>(d));
        mx = std::max(mx, p[j]);
      }
      for (auto& pj : p) total += (pj = std::exp(pj - mx));
      for (int64_t i = 0; i < d; ++i) {
        double mass = 0.0;
        for (int64_t j = 0; j < n; ++j) mass += p[j] / total * std::fabs(v[j * d + i]);
        const double bound = 2.0 * (2.0 * n + 4.0) * std::ldexp(1.0, -24) * mass;
        CHECK(std::fabs(fast[i] - ref[i]) <= bound);
      }
    }
  }
}
