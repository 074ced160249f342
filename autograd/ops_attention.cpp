// ops_attention.cpp: softmax, scaled dot-product attention and GPT-2's fused
// causal self-attention, with backward passes.
//
// What it teaches: attention for one head is three steps per query row t:
//   s[t2]   = q_t . k_t2 / sqrt(D)           for t2 <= t (causal mask)
//   p       = softmax(s)                     (subtract max(s) first: exp cannot overflow)
//   out_t   = sum_t2 p[t2] v_t2
// Backward, walking the same steps in reverse (dout_t is given):
//   dp[t2]  = dout_t . v_t2                  dv_t2 += p[t2] dout_t
//   ds[t2]  = p[t2] (dp[t2] - sum_j p[j] dp[j])          (softmax backward)
//   dq_t   += ds[t2] k_t2 / sqrt(D)          dk_t2 += ds[t2] q_t / sqrt(D)
// The probabilities p are saved in the forward pass (B*H*T*T numbers, like
// llm.c) so the backward does not recompute the exps. The per-row loops below
// are the reference (float64); float32 runs the same maths as blocked GEMMs
// (ops_attention_gemm.cpp), and tests compare the two. Heads are independent:
// The pool runs one (batch, head) pair per iteration, and each pair writes only
// its own slices of the gradients, so no two threads touch the same float.
//
// Pipeline position: the attn block of every GPT layer.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "autograd/attention_internal.h"
#include "autograd/ops.h"
#include "autograd/ops_internal.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// ---- softmax over the last axis: y = exp(x - max) / sum;  dx = y (dy - sum(dy y)) ----
// Each row is kernels::softmax_row and its backward (tensor/kernels.h).
template <class T>
void softmax_rows(const T* x, T* y, int64_t N, int64_t C) {
  parallel_for_if(N * C > kParallelMin, 0, N,
                  [&](int64_t i) { kernels::softmax_row(x + i * C, y + i * C, C); });
}

template <class T>
void softmax_rows_backward(const T* y, const T* dy, T* dx, int64_t N, int64_t C) {
  parallel_for_if(N * C > kParallelMin, 0, N, [&](int64_t i) {
    kernels::softmax_row_backward(y + i * C, dy + i * C, dx + i * C, C, T(1), true);
  });
}

template <class T>
Var softmax_typed(const Var& x) {
  const Tensor X = x.value().contiguous();
  const int64_t C = X.size(-1), N = C ? X.numel() / C : 0;
  Tensor Y = Tensor::uninitialized(X.shape(), X.dtype());
  if (C > 0) softmax_rows<T>(ptr<T>(X), ptr<T>(Y), N, C);
  return make_op_result(Y, {x}, "softmax", [Y, N, C](Node& self) {
    if (Tensor* dx = grad_accumulator(self.parents[0]))
      if (C > 0) softmax_rows_backward<T>(ptr<T>(Y), ptr<T>(self.grad), ptr<T>(*dx), N, C);
  });
}

// ---- one attention head: the reference loops -----------------------------------------
// (HeadView, in attention_internal.h, says where a head's q, k, v rows live.)
// These plain loops are the float64 path (gradient checks) and the reference
// the float32 GEMM version (ops_attention_gemm.cpp) is tested against.

// out (T_len, D) rows = softmax(q k^T / sqrt(D)) v;  att (T_len, T_len) receives p
// (entries above the diagonal stay 0 when causal).
template <class T>
void head_forward(const HeadView<T>& h, T* out, T* att) {
  const T scale = T(1) / std::sqrt(static_cast<T>(h.D));
  for (int64_t t = 0; t < h.T_len; ++t) {
    const T* qt = h.q + t * h.in_stride;  // (D)
    T* pt = att + t * h.T_len;            // (T_len)
    const int64_t n_keys = h.causal ? t + 1 : h.T_len;
    for (int64_t t2 = 0; t2 < n_keys; ++t2) {  // s[t2] = q_t . k_t2 / sqrt(D)
      const T* kt2 = h.k + t2 * h.in_stride;
      T s = 0;
      for (int64_t i = 0; i < h.D; ++i) s += qt[i] * kt2[i];
      pt[t2] = s * scale;
    }
    kernels::softmax_row(pt, pt, n_keys);
    T* ot = out + t * h.out_stride;      // (D)
    for (int64_t i = 0; i < h.D; ++i) {  // out_t = sum_t2 p[t2] v_t2
      T acc = 0;
      for (int64_t t2 = 0; t2 < n_keys; ++t2) acc += pt[t2] * h.v[t2 * h.in_stride + i];
      ot[i] = acc;
    }
  }
}

// Gradients of one head, added into dq, dk, dv (rows h.in_stride apart) from
// dout (rows h.out_stride apart) and the saved att; ds (T_len) is scratch.
// For each query row t:
//   dp[t2] = dout_t . v_t2             dv_t2 += p[t2] dout_t
//   ds     = softmax backward of dp, times 1/sqrt(D)
//   dq_t  += ds[t2] k_t2               dk_t2 += ds[t2] q_t
template <class T>
void head_backward(const HeadView<T>& h, const T* att, const T* dout, T* dq, T* dk, T* dv, T* ds) {
  const T scale = T(1) / std::sqrt(static_cast<T>(h.D));
  const int64_t Tn = h.T_len, D = h.D, ld = h.in_stride;
  for (int64_t t = 0; t < Tn; ++t) {
    const T* pt = att + t * Tn;              // (T_len)
    const T* dot = dout + t * h.out_stride;  // (D)
    const int64_t n_keys = h.causal ? t + 1 : Tn;
    for (int64_t t2 = 0; t2 < n_keys; ++t2) {
      T dp = 0;
      for (int64_t i = 0; i < D; ++i) dp += dot[i] * h.v[t2 * ld + i];
      ds[t2] = dp;
      for (int64_t i = 0; i < D; ++i) dv[t2 * ld + i] += pt[t2] * dot[i];
    }
    kernels::softmax_row_backward(pt, ds, ds, n_keys, scale, false);
    for (int64_t t2 = 0; t2 < n_keys; ++t2)
      for (int64_t i = 0; i < D; ++i) {
        dq[t * ld + i] += ds[t2] * h.k[t2 * ld + i];
        dk[t2 * ld + i] += ds[t2] * h.q[t * ld + i];
      }
  }
}

// Per-head dispatch: float32 runs the blocked GEMM version, float64 the reference.
// Scratch values per thread: none forward; dS (T, T) or one ds row backward.
int64_t forward_scratch_size(int64_t /*T_len*/, int64_t /*D*/, bool /*is_float*/) {
  return 0;
}
int64_t backward_scratch_size(int64_t T_len, int64_t /*D*/, bool is_float) {
  return is_float ? head_backward_gemm_scratch(T_len) : T_len;
}
void head_forward_any(const HeadView<float>& h, float* out, float* att, float*) {
  head_forward_gemm(h, out, att);
}
void head_forward_any(const HeadView<double>& h, double* out, double* att, double*) {
  head_forward(h, out, att);
}
void head_backward_any(const HeadView<float>& h, const float* att, const float* dout, float* dq,
                       float* dk, float* dv, float* scratch, bool fresh) {
  head_backward_gemm(h, att, dout, dq, dk, dv, scratch, fresh ? 0.0f : 1.0f);
}
void head_backward_any(const HeadView<double>& h, const double* att, const double* dout, double* dq,
                       double* dk, double* dv, double* scratch, bool /*fresh*/) {
  head_backward(h, att, dout, dq, dk, dv, scratch);  // adds: its buffers come zeroed
}

// The gradient buffer of a parent: float heads may write an uninitialised
// one (GradOut::fresh), the double reference loops add into zeros.
template <class T>
GradOut head_grad(const Var& parent) {
  if constexpr (std::is_same_v<T, float>) return grad_output(parent);
  return GradOut{grad_accumulator(parent), false};
}

// Runs fn(bh, scratch) for every head bh < n; each chunk of heads allocates
// its scratch (`size` values) once, not once per head.
template <class T, class Fn>
void for_each_head(int64_t n, int64_t size, bool parallel, Fn fn) {
  parallel_for_if(parallel, 0, n, [&](int64_t lo, int64_t hi) {
    std::vector<T> scratch(static_cast<size_t>(std::max<int64_t>(size, 1)));
    for (int64_t bh = lo; bh < hi; ++bh) fn(bh, scratch.data());
  });
}

// The saved probabilities: the GEMM version (float) writes every element, the
// reference loops (double) rely on the zeros above the diagonal.
template <class T>
Tensor att_buffer(const Shape& shape) {
  if constexpr (std::is_same_v<T, float>) return Tensor::uninitialized(shape, DType::F32);
  return Tensor::zeros(shape, DType::F64);
}

// ---- GPT-2 fused attention: qkv (B,T,3C) -> (B,T,C) -------------------------------
template <class T>
HeadView<T> fused_head(const T* qkv, int64_t b, int64_t h, int64_t Tn, int64_t C, int64_t hs) {
  const T* base = qkv + b * Tn * 3 * C + h * hs;
  return HeadView<T>{base, base + C, base + 2 * C, 3 * C, C, Tn, hs, true};
}

template <class T>
void fused_attention_backward(Node& self, const Tensor& QKV, const Tensor& att, int64_t n_head);

template <class T>
Var fused_attention(const Var& qkv, int64_t n_head) {
  const Tensor QKV = qkv.value().contiguous();  // (B, T, 3C)
  const int64_t B = QKV.size(0), Tn = QKV.size(1), C = QKV.size(2) / 3, hs = C / n_head;
  Tensor out = Tensor::uninitialized({B, Tn, C}, QKV.dtype());  // (B, T, C)
  Tensor att = att_buffer<T>({B, n_head, Tn, Tn});              // (B, H, T, T) probabilities
  const T* x = ptr<T>(QKV);
  T* o = ptr<T>(out);
  T* a = ptr<T>(att);
  const int64_t scratch = forward_scratch_size(Tn, hs, std::is_same_v<T, float>);
  for_each_head<T>(B * n_head, scratch, B * n_head * Tn * Tn * hs > kParallelMin,
                   [&](int64_t bh, T* s) {
                     const int64_t b = bh / n_head, h = bh % n_head;
                     head_forward_any(fused_head(x, b, h, Tn, C, hs), o + b * Tn * C + h * hs,
                                      a + bh * Tn * Tn, s);
                   });
  return make_op_result(out, {qkv}, "attention", [QKV, att, n_head](Node& self) {
    fused_attention_backward<T>(self, QKV, att, n_head);
  });
}

// dqkv (B,T,3C) gets each head's dq, dk, dv from dout (B,T,C) and the saved att.
template <class T>
void fused_attention_backward(Node& self, const Tensor& QKV, const Tensor& att, int64_t n_head) {
  const GradOut dqkv = head_grad<T>(self.parents[0]);
  if (!dqkv.grad) return;
  const int64_t B = QKV.size(0), Tn = QKV.size(1), C = QKV.size(2) / 3, hs = C / n_head;
  const T* x = ptr<T>(QKV);
  const T* dout = ptr<T>(self.grad);  // (B, T, C)
  const T* a = ptr<T>(att);           // (B, H, T, T)
  T* dx = ptr<T>(*dqkv.grad);         // (B, T, 3C)
  const int64_t scratch = backward_scratch_size(Tn, hs, std::is_same_v<T, float>);
  for_each_head<T>(B * n_head, scratch, B * n_head * Tn * Tn * hs > kParallelMin,
                   [&](int64_t bh, T* s) {
                     const int64_t b = bh / n_head, h = bh % n_head;
                     T* dbase = dx + b * Tn * 3 * C + h * hs;
                     head_backward_any(fused_head(x, b, h, Tn, C, hs), a + bh * Tn * Tn,
                                       dout + b * Tn * C + h * hs, dbase, dbase + C, dbase + 2 * C,
                                       s, dqkv.fresh);
                   });
}

// ---- scaled_dot_product_attention: q, k, v (B,H,T,D) -> (B,H,T,D) ----------------
template <class T>
HeadView<T> sdpa_head(const Tensor& Q, const Tensor& K, const Tensor& V, int64_t bh, bool causal) {
  const int64_t Tn = Q.size(2), D = Q.size(3), off = bh * Tn * D;
  return HeadView<T>{ptr<T>(Q) + off, ptr<T>(K) + off, ptr<T>(V) + off, D, D, Tn, D, causal};
}

template <class T>
void sdpa_backward(Node& self, const Tensor& Q, const Tensor& K, const Tensor& V, const Tensor& att,
                   bool causal);

template <class T>
Var sdpa_typed(const Var& q, const Var& k, const Var& v, bool causal) {
  const Tensor Q = q.value().contiguous(), K = k.value().contiguous(), V = v.value().contiguous();
  const int64_t BH = Q.size(0) * Q.size(1), Tn = Q.size(2), D = Q.size(3);
  Tensor out = Tensor::uninitialized(Q.shape(), Q.dtype());  // (B, H, T, D)
  Tensor att = att_buffer<T>({BH, Tn, Tn});                  // (B*H, T, T) probabilities
  const int64_t scratch = forward_scratch_size(Tn, D, std::is_same_v<T, float>);
  for_each_head<T>(BH, scratch, BH * Tn * Tn * D > kParallelMin, [&](int64_t bh, T* s) {
    head_forward_any(sdpa_head<T>(Q, K, V, bh, causal), ptr<T>(out) + bh * Tn * D,
                     ptr<T>(att) + bh * Tn * Tn, s);
  });
  return make_op_result(out, {q, k, v}, "sdpa", [Q, K, V, att, causal](Node& self) {
    sdpa_backward<T>(self, Q, K, V, att, causal);
  });
}

// dq, dk, dv (B,H,T,D) from dout and the saved att. Parents that need no
// gradient get a throwaway buffer, so the kernel stays simple. One beta serves
// the three GEMMs of a head, so unless all three buffers are fresh the fresh
// ones are zeroed and everything is added.
template <class T>
void sdpa_backward(Node& self, const Tensor& Q, const Tensor& K, const Tensor& V, const Tensor& att,
                   bool causal) {
  const int64_t BH = Q.size(0) * Q.size(1), Tn = Q.size(2), D = Q.size(3);
  Tensor unused[3];
  GradOut g[3];
  bool all_fresh = true;
  for (int i = 0; i < 3; ++i) {
    g[i] = head_grad<T>(self.parents[static_cast<size_t>(i)]);
    if (!g[i].grad) g[i] = {&(unused[i] = Tensor::uninitialized(Q.shape(), Q.dtype())), true};
    all_fresh = all_fresh && g[i].fresh;
  }
  T* d[3];
  for (int i = 0; i < 3; ++i) {
    if (!all_fresh && g[i].fresh) g[i].grad->fill(0.0);
    d[i] = ptr<T>(*g[i].grad);
  }
  const T* dout = ptr<T>(self.grad);
  const int64_t scratch = backward_scratch_size(Tn, D, std::is_same_v<T, float>);
  for_each_head<T>(BH, scratch, BH * Tn * Tn * D > kParallelMin, [&](int64_t bh, T* s) {
    const int64_t off = bh * Tn * D;
    head_backward_any(sdpa_head<T>(Q, K, V, bh, causal), ptr<T>(att) + bh * Tn * Tn, dout + off,
                      d[0] + off, d[1] + off, d[2] + off, s, all_fresh);
  });
}

}  // namespace

Var softmax(const Var& x) {
  check_defined(x, "softmax");
  check_float(x.value(), "softmax");
  if (x.value().dim() < 1) throw ShapeError("softmax: needs at least one axis, got a scalar");
  ProfileScope prof(OpClass::Attention, false);
  if (x.value().dtype() == DType::F32) return softmax_typed<float>(x);
  return softmax_typed<double>(x);
}

Var scaled_dot_product_attention(const Var& q, const Var& k, const Var& v, bool causal) {
  for (const Var* t : {&q, &k, &v}) {
    check_defined(*t, "scaled_dot_product_attention");
    check_same_dtype(q.value(), t->value(), "scaled_dot_product_attention");
  }
  if (q.value().dim() != 4 || k.shape() != q.shape() || v.shape() != q.shape())
    throw ShapeError("scaled_dot_product_attention: q, k, v must share a (B, H, T, D) shape, got " +
                     shape_str(q.shape()) + ", " + shape_str(k.shape()) + ", " +
                     shape_str(v.shape()));
  ProfileScope prof(OpClass::Attention, false);
  if (q.value().dtype() == DType::F32) return sdpa_typed<float>(q, k, v, causal);
  return sdpa_typed<double>(q, k, v, causal);
}

Var causal_self_attention(const Var& qkv, int64_t n_head) {
  check_defined(qkv, "causal_self_attention");
  check_float(qkv.value(), "causal_self_attention");
  const Shape& s = qkv.shape();
  if (s.size() != 3 || s[2] % 3 != 0 || n_head <= 0 || (s[2] / 3) % n_head != 0)
    throw ShapeError("causal_self_attention: expected qkv (B, T, 3C) with C divisible by n_head " +
                     std::to_string(n_head) + ", got " + shape_str(s));
  ProfileScope prof(OpClass::Attention, false);
  if (qkv.value().dtype() == DType::F32) return fused_attention<float>(qkv, n_head);
  return fused_attention<double>(qkv, n_head);
}

}  // namespace cpurich::ag
