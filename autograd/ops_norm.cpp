// ops_norm.cpp: layer_norm (GPT-2) and rms_norm (Llama) with backward.
//
// What it teaches: normalisation rescales each row (one token's C features)
// to zero mean and unit variance, then applies a learned gain w and bias b.
// The backward has to account for every output depending on the row's mean
// and variance; with xhat = (x - mean) * rstd and dn = dy * w it simplifies to
//     dx = rstd * (dn - mean(dn) - xhat * mean(dn * xhat))
//     dw = sum over rows of dy * xhat        db = sum over rows of dy
// Each row's statistics are reduced by one thread in order, and dw/db are
// summed over rows in order per column chunk: bitwise reproducible.
//
// Pipeline position: ln_1, ln_2 and ln_f of every GPT block.
#include <cmath>

#include "autograd/ops.h"
#include "autograd/ops_internal.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// sum_j (x[j] - m)^2, x (n), in the fixed lane order of tensor/kernels.h.
template <class T>
T sum_sq_dev(const T* x, T m, int64_t n) {
  return kernels::sum_lanes_of<T>(n, [x, m](int64_t j) { return (x[j] - m) * (x[j] - m); });
}

// y (N,C) = (x - mean) * rstd * w + b per row; mean, rstd (N) are saved for
// the backward pass. b may be null (rms_norm); center = false skips the mean.
template <class T>
void norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t N, int64_t C,
                  T eps, bool center) {
  parallel_for_if(N * C > kParallelMin, 0, N, [&](int64_t i) {
    const T* xi = x + i * C;
    const T m = center ? kernels::sum_lanes(xi, C) / static_cast<T>(C) : T(0);
    const T r = T(1) / std::sqrt(sum_sq_dev(xi, m, C) / static_cast<T>(C) + eps);
    T* yi = y + i * C;
    if (b)
      for (int64_t j = 0; j < C; ++j) yi[j] = (xi[j] - m) * r * w[j] + b[j];
    else
      for (int64_t j = 0; j < C; ++j) yi[j] = (xi[j] - m) * r * w[j];
    mean[i] = m;
    rstd[i] = r;
  });
}

// dx (N,C) += rstd * (dn - mean(dn) - xhat * mean(dn * xhat)), dn = dy * w
// (written with = instead of += when !accumulate: dx is a fresh buffer).
// For rms_norm (center = false) the mean(dn) term is absent since mean is 0.
// mean(dn * xhat) = rstd * mean(dn * (x - mean)): both sums in the fixed lane order.
template <class T>
void norm_backward_dx(const T* x, const T* w, const T* dy, const T* mean, const T* rstd, T* dx,
                      int64_t N, int64_t C, bool center, bool accumulate) {
  parallel_for_if(N * C > kParallelMin, 0, N, [&](int64_t i) {
    const T *xi = x + i * C, *dyi = dy + i * C;
    const T m = mean[i], r = rstd[i];
    const T dn_sum = kernels::sum_lanes_of<T>(C, [&](int64_t j) { return dyi[j] * w[j]; });
    const T dnx_sum =
        kernels::sum_lanes_of<T>(C, [&](int64_t j) { return dyi[j] * w[j] * (xi[j] - m); });
    const T dn_mean = center ? dn_sum / static_cast<T>(C) : T(0);
    const T dn_xhat_mean = dnx_sum * r / static_cast<T>(C);
    T* dxi = dx + i * C;
    for (int64_t j = 0; j < C; ++j) {
      const T xhat = (xi[j] - m) * r;
      const T g = r * (dyi[j] * w[j] - dn_mean - xhat * dn_xhat_mean);
      dxi[j] = accumulate ? dxi[j] + g : g;
    }
  });
}

// dw (C) += sum_i dy * xhat, db (C) += sum_i dy; rows in order per column chunk.
template <class T>
void norm_backward_params(const T* x, const T* dy, const T* mean, const T* rstd, T* dw, T* db,
                          int64_t N, int64_t C) {
  constexpr int64_t kChunk = 64;
  const int64_t chunks = (C + kChunk - 1) / kChunk;
  parallel_for_if(N * C > kParallelMin && chunks > 1, 0, chunks, [&](int64_t c) {
    const int64_t j0 = c * kChunk, j1 = std::min(C, j0 + kChunk);
    for (int64_t i = 0; i < N; ++i) {
      const T *xi = x + i * C, *dyi = dy + i * C;
      for (int64_t j = j0; j < j1; ++j) {
        if (dw) dw[j] += dyi[j] * (xi[j] - mean[i]) * rstd[i];
        if (db) db[j] += dyi[j];
      }
    }
  });
}

template <class T>
Var norm_op(const Var& x, const Var& w, const Var& b, double eps, bool center, const char* name) {
  const Tensor X = x.value().contiguous();  // (N, C)
  const Tensor W = w.value().contiguous();  // (C)
  const Tensor Bv = b.defined() ? b.value().contiguous() : Tensor();
  const int64_t C = X.size(-1), N = X.numel() / C;
  Tensor Y = Tensor::uninitialized(X.shape(), X.dtype());
  Tensor stats = Tensor::uninitialized({2, N}, X.dtype());  // row 0: mean, row 1: rstd
  T* mean = ptr<T>(stats);
  T* rstd = mean + N;
  norm_forward<T>(ptr<T>(X), ptr<T>(W), b.defined() ? ptr<T>(Bv) : nullptr, ptr<T>(Y), mean, rstd,
                  N, C, static_cast<T>(eps), center);
  std::vector<Var> parents{x, w};
  if (b.defined()) parents.push_back(b);
  return make_op_result(Y, std::move(parents), name, [X, W, stats, N, C, center](Node& self) {
    const T* dy = ptr<T>(self.grad);
    const T* mean = ptr<T>(stats);
    const T* rstd = mean + N;
    if (const GradOut dx = grad_output(self.parents[0]); dx.grad)
      norm_backward_dx<T>(ptr<T>(X), ptr<T>(W), dy, mean, rstd, ptr<T>(*dx.grad), N, C, center,
                          !dx.fresh);
    Tensor* dw = grad_accumulator(self.parents[1]);
    Tensor* db = self.parents.size() > 2 ? grad_accumulator(self.parents[2]) : nullptr;
    if (dw || db)
      norm_backward_params<T>(ptr<T>(X), dy, mean, rstd, dw ? ptr<T>(*dw) : nullptr,
                              db ? ptr<T>(*db) : nullptr, N, C);
  });
}

void check_norm_args(const Var& x, const Var& w, const Var& b, const char* op) {
  check_defined(x, op);
  check_defined(w, op);
  check_same_dtype(x.value(), w.value(), op);
  const Shape param{x.value().dim() > 0 ? x.value().size(-1) : 0};
  if (x.value().dim() < 1 || w.shape() != param)
    throw ShapeError(std::string(op) + ": weight " + shape_str(w.shape()) +
                     " does not match the last axis of x " + shape_str(x.shape()));
  if (b.defined()) {
    check_same_dtype(x.value(), b.value(), op);
    if (b.shape() != param)
      throw ShapeError(std::string(op) + ": bias " + shape_str(b.shape()) +
                       " does not match the last axis of x " + shape_str(x.shape()));
  }
}

}  // namespace

Var layer_norm(const Var& x, const Var& w, const Var& b, double eps) {
  check_norm_args(x, w, b, "layer_norm");
  ProfileScope prof(OpClass::Norms, false);
  if (x.value().dtype() == DType::F32) return norm_op<float>(x, w, b, eps, true, "layer_norm");
  return norm_op<double>(x, w, b, eps, true, "layer_norm");
}

// rms_norm: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps): layer_norm
// without centring and without bias, so the same kernels serve with mean = 0.
Var rms_norm(const Var& x, const Var& w, double eps) {
  check_norm_args(x, w, Var(), "rms_norm");
  ProfileScope prof(OpClass::Norms, false);
  if (x.value().dtype() == DType::F32) return norm_op<float>(x, w, Var(), eps, false, "rms_norm");
  return norm_op<double>(x, w, Var(), eps, false, "rms_norm");
}

}  // namespace cpurich::ag
