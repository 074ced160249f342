// decode_ops.cpp: LayerNorm and single-query attention (see decode_ops.h):
// the naive attention first, then attend(), its fast twin.
//
// attend() is compiled for AVX-512, AVX2 and baseline x86-64
// (CPURICH_TARGET_CLONES); the build sets -ffp-contract=off, so every clone
// rounds a*b+c twice and all of them give the same bits.
#include "infer/decode_ops.h"

#include <cmath>

#include "infer/kv_cache.h"
#include "tensor/kernels.h"

namespace cpurich {

namespace {

constexpr int64_t kBlock = KVCache::kKeyBlock;  // positions scored together (64)
constexpr int64_t kMixTile = 32;                // outputs of p @ V together (two AVX-512 registers)
constexpr int64_t kSplit = 4;                   // partial sums over positions in p @ V

}  // namespace

// The reference: plain loops, each sum in order. Only the softmax is the
// shared kernels::softmax_row, so the test compares exactly what attend()
// changes (the blocked key layout, the score block and the mix tiles).
void attend_naive(const float* q, const float* keys, const float* values, int64_t n, int64_t d,
                  float* scores, float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t j = 0; j < n; ++j) {
    float s = 0.0f;
    for (int64_t i = 0; i < d; ++i) s += q[i] * keys[(j / kBlock * d + i) * kBlock + j % kBlock];
    scores[j] = s * scale;
  }
  kernels::softmax_row(scores, scores, n);
  for (int64_t i = 0; i < d; ++i) {
    float acc = 0.0f;
    for (int64_t j = 0; j < n; ++j) acc += scores[j] * values[j * d + i];
    out[i] = acc;
  }
}

namespace {

// scores[j] = scale * sum_{i<d} q[i] block[i*64 + j] for j < jn (jn <= 64),
// block (d, 64) being one key block: the axpy form, vectorised across j, each
// score still summed over i = 0, 1, ... in order. With jn == 64 (a constant
// once inlined) the accumulators live in registers: 4 independent add chains,
// enough to keep the adders busy while each addition waits for the one before.
CPURICH_INLINE void score_block(const float* q, const float* block, int64_t d, int64_t jn,
                                float scale, float* scores) {
  float acc[kBlock] = {};
  for (int64_t i = 0; i < d; ++i) {
    const float qi = q[i];
    const float* row = block + i * kBlock;
    for (int64_t j = 0; j < jn; ++j) acc[j] += qi * row[j];
  }
  for (int64_t j = 0; j < jn; ++j) scores[j] = acc[j] * scale;
}

// out[i0 + i] = sum_{j<n} p[j] values[j*d + i0 + i] for i < in (in <= kMixTile),
// vectorised across i. With d = 32 that is only 2 registers, so positions
// are split into kSplit interleaved partial sums (part s takes j = s, s+4,
// ...) added at the end as (s0 + s1) + (s2 + s3): 8 independent chains, in
// a fixed order.
CPURICH_INLINE void mix_tile(const float* p, const float* values, int64_t n, int64_t d, int64_t i0,
                             int64_t in, float* out) {
  float acc[kSplit][kMixTile] = {};
  int64_t j = 0;
  for (; j + kSplit <= n; j += kSplit)
    for (int64_t s = 0; s < kSplit; ++s) {
      const float pj = p[j + s];
      const float* v = values + (j + s) * d + i0;
      for (int64_t i = 0; i < in; ++i) acc[s][i] += pj * v[i];
    }
  for (int64_t s = 0; j + s < n; ++s) {  // the last n % 4 positions, same parts
    const float pj = p[j + s];
    const float* v = values + (j + s) * d + i0;
    for (int64_t i = 0; i < in; ++i) acc[s][i] += pj * v[i];
  }
  for (int64_t i = 0; i < in; ++i) out[i0 + i] = (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]);
}

}  // namespace

void layernorm_row(const float* x, const float* w, const float* b, int64_t C, float eps, float* y) {
  float mean = 0.0f;
  for (int64_t c = 0; c < C; ++c) mean += x[c];
  mean /= static_cast<float>(C);
  float var = 0.0f;
  for (int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
  var /= static_cast<float>(C);
  const float rstd = 1.0f / std::sqrt(var + eps);
  for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
}

// The fast twin of attend_naive: scores of 64 positions side by side in SIMD
// lanes (score_block, same sums in the same order), and p @ V in register
// tiles with 4 interleaved partial sums over positions (mix_tile).
CPURICH_TARGET_CLONES
void attend(const float* q, const float* keys, const float* values, int64_t n, int64_t d,
            float* scores, float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  int64_t j0 = 0;
  for (; j0 + kBlock <= n; j0 += kBlock)
    score_block(q, keys + j0 * d, d, kBlock, scale, scores + j0);
  if (j0 < n) score_block(q, keys + j0 * d, d, n - j0, scale, scores + j0);  // partial block
  kernels::softmax_row(scores, scores, n);  // p_j, in the fixed lane order
  // out = sum_j p_j v_j, kMixTile outputs at a time held in registers.
  int64_t i0 = 0;
  for (; i0 + kMixTile <= d; i0 += kMixTile) mix_tile(scores, values, n, d, i0, kMixTile, out);
  if (i0 < d) mix_tile(scores, values, n, d, i0, d - i0, out);
}

}  // namespace cpurich
