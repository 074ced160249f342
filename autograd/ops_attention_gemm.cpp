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
#include "tensor/kernels.h"
#include "tensor/matmul.h"

namespace cpurich::ag::detail {

namespace {

// Query rows per block. A multiple of the microkernel widths (14 or 6 rows,
// 32 or 16 columns) wastes little at the edges; 64 keeps the wasted
// above-diagonal part of each diagonal block small (64 x 64 / 2).
constexpr int64_t kQBlock = 64;

// Row s (len) holds scores for keys 0..len-1; keys n.. are masked (future).
// In place: s[j] = softmax(s[0:n])[j] for j < n, and 0 for n <= j < len.
CPURICH_TARGET_CLONES void softmax_prefix(float* s, int64_t n, int64_t len) {
  kernels::softmax_row(s, s, n);
  for (int64_t j = n; j < len; ++j) s[j] = 0.0f;
}

// Softmax backward of one row, in place over dp: for j < n
//   ds[j] = p[j] (dp[j] - sum_k p[k] dp[k]) * scale
// (scale = 1/sqrt(D) is the derivative of S = scale Q K^T), and 0 for n <= j < len.
CPURICH_TARGET_CLONES void softmax_backward_prefix(const float* p, float* dp, int64_t n,
                                                   int64_t len, float scale) {
  kernels::softmax_row_backward(p, dp, dp, n, scale, false);
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
    matmul_packed({.trans_b = true,
                   .m = mq,
                   .n = nk,
                   .k = D,
                   .alpha = scale,
                   .a = h.q + q0 * ld,
                   .lda = ld,
                   .b = h.k,
                   .ldb = ld,
                   .c = s,
                   .ldc = Tn});
    for (int64_t t = q0; t < q1; ++t) softmax_prefix(att + t * Tn, h.causal ? t + 1 : Tn, Tn);
    matmul_packed({.m = mq,
                   .n = D,
                   .k = nk,
                   .a = s,
                   .lda = Tn,
                   .b = h.v,
                   .ldb = ld,
                   .c = out + q0 * h.out_stride,
                   .ldc = h.out_stride});
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
    matmul_packed({.trans_b = true,
                   .m = mq,
                   .n = nk,
                   .k = D,
                   .a = dout + q0 * ldo,
                   .lda = ldo,
                   .b = h.v,
                   .ldb = ld,
                   .c = ds + q0 * Tn,
                   .ldc = Tn});
    for (int64_t t = q0; t < q1; ++t)
      softmax_backward_prefix(att + t * Tn, ds + t * Tn, h.causal ? t + 1 : Tn, nk, scale);
    matmul_packed({.m = mq,
                   .n = D,
                   .k = nk,
                   .a = ds + q0 * Tn,
                   .lda = Tn,
                   .b = h.k,
                   .ldb = ld,
                   .beta = beta,
                   .c = dq + q0 * ld,
                   .ldc = ld});
  }
  for (int64_t k0 = 0; k0 < Tn; k0 += kQBlock) {
    const int64_t k1 = std::min(Tn, k0 + kQBlock), mk = k1 - k0, f = h.causal ? k0 : 0;
    matmul_packed({.trans_a = true,
                   .m = mk,
                   .n = D,
                   .k = Tn - f,
                   .a = ds + f * Tn + k0,
                   .lda = Tn,
                   .b = h.q + f * ld,
                   .ldb = ld,
                   .beta = beta,
                   .c = dk + k0 * ld,
                   .ldc = ld});
    matmul_packed({.trans_a = true,
                   .m = mk,
                   .n = D,
                   .k = Tn - f,
                   .a = att + f * Tn + k0,
                   .lda = Tn,
                   .b = dout + f * ldo,
                   .ldb = ldo,
                   .beta = beta,
                   .c = dv + k0 * ld,
                   .ldc = ld});
  }
}

}  // namespace cpurich::ag::detail
