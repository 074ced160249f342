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
// llm.c) so the backward does not recompute the exps. Heads are independent:
// OpenMP runs one (batch, head) pair per iteration, and each pair writes only
// its own slices of the gradients, so no two threads touch the same float.
//
// Pipeline position: the attn block of every GPT layer.
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "autograd/fast_math.h"
#include "autograd/ops_internal.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// ---- softmax over the last axis: y = exp(x - max) / sum;  dx = y (dy - sum(dy y)) ----
template <class T>
void softmax_rows(const T* x, T* y, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const T* xi = x + i * C;
    T* yi = y + i * C;
    T m = xi[0];
    for (int64_t j = 1; j < C; ++j) m = std::max(m, xi[j]);
    for (int64_t j = 0; j < C; ++j) yi[j] = exp_t(xi[j] - m);
    const T inv = T(1) / sum_lanes(yi, C);
    for (int64_t j = 0; j < C; ++j) yi[j] *= inv;
  }
}

template <class T>
void softmax_rows_backward(const T* y, const T* dy, T* dx, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const T *yi = y + i * C, *dyi = dy + i * C;
    const T dot = dot_lanes(dyi, yi, C);
    for (int64_t j = 0; j < C; ++j) dx[i * C + j] += yi[j] * (dyi[j] - dot);
  }
}

template <class T>
Var softmax_typed(const Var& x) {
  const Tensor X = x.value().contiguous();
  const int64_t C = X.size(-1), N = C ? X.numel() / C : 0;
  Tensor Y = Tensor::empty(X.shape(), X.dtype());
  if (C > 0) softmax_rows<T>(ptr<T>(X), ptr<T>(Y), N, C);
  return make_op_result(Y, {x}, "softmax", [Y, N, C](Node& self) {
    if (Tensor* dx = grad_accumulator(self.parents[0]))
      if (C > 0) softmax_rows_backward<T>(ptr<T>(Y), ptr<T>(self.grad), ptr<T>(*dx), N, C);
  });
}

// ---- one attention head ------------------------------------------------------------
// Where one head's rows live: row t of q is q[t * in_stride .. + D), same for
// k and v; row t of out is out[t * out_stride ..]. The fused qkv layout has
// in_stride = 3C, the (B,H,T,D) layout has in_stride = D.
template <class T>
struct HeadView {
  const T* q;
  const T* k;
  const T* v;
  int64_t in_stride;
  int64_t out_stride;
  int64_t T_len;
  int64_t D;
  bool causal;
};

// out (T_len, D) rows = softmax(q k^T / sqrt(D)) v;  att (T_len, T_len) receives p
// (entries above the diagonal stay 0 when causal). Dot products use the
// fixed-order lane sums of fast_math.h; exp is exp_f32 in float.
template <class T>
[[gnu::always_inline]] inline void head_forward(const HeadView<T>& h, T* out, T* att) {
  const T scale = T(1) / std::sqrt(static_cast<T>(h.D));
  for (int64_t t = 0; t < h.T_len; ++t) {
    const T* qt = h.q + t * h.in_stride;
    T* pt = att + t * h.T_len;
    const int64_t n_keys = h.causal ? t + 1 : h.T_len;
    T m = -INFINITY;
    for (int64_t t2 = 0; t2 < n_keys; ++t2) {
      pt[t2] = dot_lanes(qt, h.k + t2 * h.in_stride, h.D) * scale;
      m = std::max(m, pt[t2]);
    }
    for (int64_t t2 = 0; t2 < n_keys; ++t2) pt[t2] = exp_t(pt[t2] - m);
    const T inv = T(1) / sum_lanes(pt, n_keys);
    T* ot = out + t * h.out_stride;
    for (int64_t i = 0; i < h.D; ++i) ot[i] = 0;
    for (int64_t t2 = 0; t2 < n_keys; ++t2) {
      const T p = (pt[t2] *= inv);
      const T* vt = h.v + t2 * h.in_stride;
      for (int64_t i = 0; i < h.D; ++i) ot[i] += p * vt[i];
    }
  }
}

// Gradients of one head; dq, dk, dv rows use h.in_stride, dout rows h.out_stride.
// dp is scratch of T_len values.
template <class T>
[[gnu::always_inline]] inline void head_backward(const HeadView<T>& h, const T* att,
                                                 const T* dout, T* dq, T* dk, T* dv, T* dp) {
  const T scale = T(1) / std::sqrt(static_cast<T>(h.D));
  for (int64_t t = 0; t < h.T_len; ++t) {
    const T* pt = att + t * h.T_len;
    const T* dot = dout + t * h.out_stride;
    const int64_t n_keys = h.causal ? t + 1 : h.T_len;
    for (int64_t t2 = 0; t2 < n_keys; ++t2) {
      dp[t2] = dot_lanes(dot, h.v + t2 * h.in_stride, h.D);
      T* dvt = dv + t2 * h.in_stride;
      for (int64_t i = 0; i < h.D; ++i) dvt[i] += pt[t2] * dot[i];
    }
    const T pdp = dot_lanes(pt, dp, n_keys);  // sum_j p[j] dp[j]
    const T* qt = h.q + t * h.in_stride;
    T* dqt = dq + t * h.in_stride;
    for (int64_t t2 = 0; t2 < n_keys; ++t2) {
      const T ds = pt[t2] * (dp[t2] - pdp) * scale;
      const T* kt = h.k + t2 * h.in_stride;
      T* dkt = dk + t2 * h.in_stride;
      for (int64_t i = 0; i < h.D; ++i) {
        dqt[i] += ds * kt[i];
        dkt[i] += ds * qt[i];
      }
    }
  }
}

// The float versions are compiled per ISA (see CPURICH_TARGET_CLONES);
// overloads on the element type let the templates below call either.
CPURICH_TARGET_CLONES void head_forward_isa(const HeadView<float>& h, float* out, float* att) {
  head_forward(h, out, att);
}
void head_forward_isa(const HeadView<double>& h, double* out, double* att) {
  head_forward(h, out, att);
}
CPURICH_TARGET_CLONES void head_backward_isa(const HeadView<float>& h, const float* att,
                                             const float* dout, float* dq, float* dk, float* dv,
                                             float* dp) {
  head_backward(h, att, dout, dq, dk, dv, dp);
}
void head_backward_isa(const HeadView<double>& h, const double* att, const double* dout,
                       double* dq, double* dk, double* dv, double* dp) {
  head_backward(h, att, dout, dq, dk, dv, dp);
}

// ---- GPT-2 fused attention: qkv (B,T,3C) -> (B,T,C) -------------------------------
template <class T>
HeadView<T> fused_head(const T* qkv, int64_t b, int64_t h, int64_t Tn, int64_t C, int64_t hs) {
  const T* base = qkv + b * Tn * 3 * C + h * hs;
  return HeadView<T>{base, base + C, base + 2 * C, 3 * C, C, Tn, hs, true};
}

template <class T>
Var fused_attention(const Var& qkv, int64_t n_head) {
  const Tensor QKV = qkv.value().contiguous();  // (B, T, 3C)
  const int64_t B = QKV.size(0), Tn = QKV.size(1), C = QKV.size(2) / 3, hs = C / n_head;
  Tensor out = Tensor::empty({B, Tn, C}, QKV.dtype());         // (B, T, C)
  Tensor att = Tensor::empty({B, n_head, Tn, Tn}, QKV.dtype());  // (B, H, T, T) probabilities
  const T* x = ptr<T>(QKV);
  T* o = ptr<T>(out);
  T* a = ptr<T>(att);
#pragma omp parallel for if (B * n_head * Tn * Tn * hs > kParallelMin) schedule(static)
  for (int64_t bh = 0; bh < B * n_head; ++bh) {
    const int64_t b = bh / n_head, h = bh % n_head;
    head_forward_isa(fused_head(x, b, h, Tn, C, hs), o + b * Tn * C + h * hs, a + bh * Tn * Tn);
  }
  return make_op_result(out, {qkv}, "attention", [QKV, att, B, Tn, C, n_head, hs](Node& self) {
    Tensor* dqkv = grad_accumulator(self.parents[0]);
    if (!dqkv) return;
    const T* x = ptr<T>(QKV);
    const T* dout = ptr<T>(self.grad);
    const T* a = ptr<T>(att);
    T* dx = ptr<T>(*dqkv);
#pragma omp parallel for if (B * n_head * Tn * Tn * hs > kParallelMin) schedule(static)
    for (int64_t bh = 0; bh < B * n_head; ++bh) {
      const int64_t b = bh / n_head, h = bh % n_head;
      std::vector<T> dp(static_cast<size_t>(Tn));
      T* dbase = dx + b * Tn * 3 * C + h * hs;
      head_backward_isa(fused_head(x, b, h, Tn, C, hs), a + bh * Tn * Tn, dout + b * Tn * C + h * hs,
                    dbase, dbase + C, dbase + 2 * C, dp.data());
    }
  });
}

// ---- scaled_dot_product_attention: q, k, v (B,H,T,D) -> (B,H,T,D) ----------------
template <class T>
Var sdpa_typed(const Var& q, const Var& k, const Var& v, bool causal) {
  const Tensor Q = q.value().contiguous(), K = k.value().contiguous(), V = v.value().contiguous();
  const int64_t BH = Q.size(0) * Q.size(1), Tn = Q.size(2), D = Q.size(3);
  Tensor out = Tensor::empty(Q.shape(), Q.dtype());
  Tensor att = Tensor::empty({BH, Tn, Tn}, Q.dtype());
  auto head = [Tn, D, causal](const Tensor& Q, const Tensor& K, const Tensor& V, int64_t bh) {
    const int64_t off = bh * Tn * D;
    return HeadView<T>{ptr<T>(Q) + off, ptr<T>(K) + off, ptr<T>(V) + off, D, D, Tn, D, causal};
  };
#pragma omp parallel for if (BH * Tn * Tn * D > kParallelMin) schedule(static)
  for (int64_t bh = 0; bh < BH; ++bh)
    head_forward_isa(head(Q, K, V, bh), ptr<T>(out) + bh * Tn * D, ptr<T>(att) + bh * Tn * Tn);
  return make_op_result(out, {q, k, v}, "sdpa", [Q, K, V, att, BH, Tn, D, head](Node& self) {
    // Parents that need no gradient get a scratch buffer, so the kernel stays simple.
    Tensor scratch[3];
    T* d[3];
    for (int i = 0; i < 3; ++i) {
      Tensor* g = grad_accumulator(self.parents[static_cast<size_t>(i)]);
      if (!g) g = &(scratch[i] = Tensor::zeros(Q.shape(), Q.dtype()));
      d[i] = ptr<T>(*g);
    }
    const T* dout = ptr<T>(self.grad);
#pragma omp parallel for if (BH * Tn * Tn * D > kParallelMin) schedule(static)
    for (int64_t bh = 0; bh < BH; ++bh) {
      std::vector<T> dp(static_cast<size_t>(Tn));
      const int64_t off = bh * Tn * D;
      head_backward_isa(head(Q, K, V, bh), ptr<T>(att) + bh * Tn * Tn, dout + off, d[0] + off,
                    d[1] + off, d[2] + off, dp.data());
    }
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
