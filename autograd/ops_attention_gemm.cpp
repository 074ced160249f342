// ops_attention_gemm.cpp: one attention head in float32 as a few GEMM calls,
// skipping the causal mask's upper triangle.
//
// What it teaches: the reference head in ops_attention.cpp walks one query
// row at a time; every inner loop is a single chain of dependent multiply-adds,
// so the CPU waits on each one (latency-bound). The same maths is five matrix
// products, which the packed GEMM (tensor/matmul_packed.cpp) runs near peak:
//   forward    S = Q K^T / sqrt(D)      P = softmax(S) row by row      O = P V
//   backward   dP = dO V^T              dS = P (dP - rowsum(P dP)) / sqrt(D)
//              dQ += dS K               dK += dS^T Q                   dV += P^T dO
// With a causal mask, P and dS are zero above the diagonal, so the products
// are cut into blocks of kQBlock query rows: block [q0, q1) needs only keys
// [0, q1), about half of the full (T, T) work. Key blocks are the mirror image:
// keys [k0, k1) are seen only by queries [k0, T).
// Each GEMM is single-threaded (matmul_packed): the caller already runs one
// head per thread, and a GEMM's sums have a fixed order, so the result does
// not depend on the thread count.
//
// Pipeline position: the attn block of every GPT layer (float32 training).
#include <algorithm>
#include <cmath>

#include "autograd/attention_internal.h"
#include "autograd/fast_math.h"
#include "tensor/matmul.h"

namespace cpurich::ag::detail {

namespace {

// Query rows per block. A multiple of the microkernel widths (14 or 6 rows,
// 32 or 16 columns) wastes little at the edges; 64 keeps the wasted
// above-diagonal part of each diagonal block small (64 x 64 / 2).
constexpr int64_t kQBlock = 64;

// Every GEMM below is matmul_packed on this thread, written as one GemmArgs
// initialiser: {trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}
// for C (m,n) = alpha op(A) @ op(B) + beta C (see tensor/matmul.h).

// max_j s[j] in kLanes lanes (max is exact, so any order gives the same value).
inline float max_lanes(const float* s, int64_t n) {
  float acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = -INFINITY;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = s[j + l] > acc[l] ? s[j + l] : acc[l];
  float m = -INFINITY;
  for (int l = 0; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
  for (; j < n; ++j) m = s[j] > m ? s[j] : m;
  return m;
}

// Row s (len) holds scores for keys 0..len-1; keys n.. are masked (future).
// In place: s[j] = e^(s[j] - max) / sum for j < n, and 0 for n <= j < len.
CPURICH_TARGET_CLONES void softmax_prefix(float* s, int64_t n, int64_t len) {
  const float m = max_lanes(s, n);
  for (int64_t j = 0; j < n; ++j) s[j] = exp_f32(s[j] - m);
  const float inv = 1.0f / sum_lanes(s, n);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
  for (int64_t j = n; j < len; ++j) s[j] = 0.0f;
}

// Softmax backward of one row, in place over dp: for j < n
//   ds[j] = p[j] (dp[j] - sum_k p[k] dp[k]) * scale
// (scale = 1/sqrt(D) is the derivative of S = scale Q K^T), and 0 for n <= j < len.
CPURICH_TARGET_CLONES void softmax_backward_prefix(const float* p, float* dp, int64_t n,
                                                   int64_t len, float scale) {
  const float pdp = dot_lanes(p, dp, n);
  for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - pdp) * scale;
  for (int64_t j = n; j < len; ++j) dp[j] = 0.0f;
}

}  // namespace

int64_t head_backward_gemm_scratch(int64_t T_len) {
  return T_len * T_len;
}

// Per query block [q0, q1), keys [0, nk) with nk = q1 (causal) or T:
//   att[q0:q1, 0:nk] = Q[q0:q1] K[0:nk]^T / sqrt(D), then softmax row by row,
//   out[q0:q1] = att[q0:q1, 0:nk] V[0:nk].
void head_forward_gemm(const HeadView<float>& h, float* out, float* att) {
  const int64_t Tn = h.T_len, D = h.D, ld = h.in_stride;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (int64_t q0 = 0; q0 < Tn; q0 += kQBlock) {
    const int64_t q1 = std::min(Tn, q0 + kQBlock), mq = q1 - q0, nk = h.causal ? q1 : Tn;
    float* s = att + q0 * Tn;  // (mq, T) rows of att
    matmul_packed({false, true, mq, nk, D, scale, h.q + q0 * ld, ld, h.k, ld, 0.0f, s, Tn});
    for (int64_t t = q0; t < q1; ++t) softmax_prefix(att + t * Tn, h.causal ? t + 1 : Tn, Tn);
    matmul_packed({false, false, mq, D, nk, 1.0f, s, Tn, h.v, ld, 0.0f, out + q0 * h.out_stride,
                   h.out_stride});
  }
}

// Pass 1, per query block: dS rows (kept in scratch) and dQ.
//   dS[q0:q1, 0:nk] = dO[q0:q1] V[0:nk]^T, then the softmax backward per row;
//   dQ[q0:q1] += dS[q0:q1, 0:nk] K[0:nk].
// Pass 2, per key block [k0, k1), queries [f, T) with f = k0 (causal) or 0:
//   dK[k0:k1] += dS[f:T, k0:k1]^T Q[f:T]      dV[k0:k1] += att[f:T, k0:k1]^T dO[f:T]
// Pass 2 reads dS and att only at or below the diagonal, or inside a diagonal
// block, where pass 1 and the forward wrote zeros for the masked keys.
// Every dq, dk, dv element is produced by exactly one GEMM: beta = 0 is safe.
void head_backward_gemm(const HeadView<float>& h, const float* att, const float* dout, float* dq,
                        float* dk, float* dv, float* scratch, float beta) {
  const int64_t Tn = h.T_len, D = h.D, ld = h.in_stride, ldo = h.out_stride;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  float* ds = scratch;  // (T, T)
  for (int64_t q0 = 0; q0 < Tn; q0 += kQBlock) {
    const int64_t q1 = std::min(Tn, q0 + kQBlock), mq = q1 - q0, nk = h.causal ? q1 : Tn;
    matmul_packed(
        {false, true, mq, nk, D, 1.0f, dout + q0 * ldo, ldo, h.v, ld, 0.0f, ds + q0 * Tn, Tn});
    for (int64_t t = q0; t < q1; ++t)
      softmax_backward_prefix(att + t * Tn, ds + t * Tn, h.causal ? t + 1 : Tn, nk, scale);
    matmul_packed(
        {false, false, mq, D, nk, 1.0f, ds + q0 * Tn, Tn, h.k, ld, beta, dq + q0 * ld, ld});
  }
  for (int64_t k0 = 0; k0 < Tn; k0 += kQBlock) {
    const int64_t k1 = std::min(Tn, k0 + kQBlock), mk = k1 - k0, f = h.causal ? k0 : 0;
    matmul_packed({true, false, mk, D, Tn - f, 1.0f, ds + f * Tn + k0, Tn, h.q + f * ld, ld, beta,
                   dk + k0 * ld, ld});
    matmul_packed({true, false, mk, D, Tn - f, 1.0f, att + f * Tn + k0, Tn, dout + f * ldo, ldo,
                   beta, dv + k0 * ld, ld});
  }
}

}  // namespace cpurich::ag::detail
