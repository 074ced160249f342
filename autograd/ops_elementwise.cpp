// ops_elementwise.cpp: + - * / with broadcasting, scalar ops, gelu and silu.
//
// What it teaches: for an elementwise op y = f(a, b) the chain rule is local:
// da = dy * df/da, db = dy * df/db, element by element. Broadcasting adds one
// twist: if b was repeated along some axis in the forward pass, each copy of b
// contributed to the loss, so db sums dy over that axis (sum_to_shape, the
// adjoint of broadcasting).
//
// Pipeline position: residual adds, position embeddings, the MLP activation.
#include <cmath>

#include "autograd/ops.h"
#include "autograd/ops_internal.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// Adds dy, reduced to the parent's shape, into the parent's grad.
void accumulate_reduced(const Var& parent, const Tensor& dy) {
  if (!parent.requires_grad()) return;
  if (dy.shape() == parent.shape())
    accumulate_grad(parent, dy);
  else
    accumulate_grad_owned(parent, sum_to_shape(dy, parent.shape()));
}

// True when b's shape equals the trailing dims of a's shape (b repeats over
// a's leading dims): the position-embedding add (B,T,C) + (T,C).
bool is_suffix_shape(const Shape& a, const Shape& b) {
  if (b.size() > a.size() || b.empty()) return false;
  return std::equal(b.begin(), b.end(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
}

// y (n) = a (n) + b (nb) repeated; n is a multiple of nb. nb == n: same shape.
void add_f32_kernel(const float* a, const float* b, float* y, int64_t n, int64_t nb) {
  const int64_t rows = n / nb;
  parallel_for_if(n > kParallelMin, 0, rows, [&](int64_t r) {
    for (int64_t j = 0; j < nb; ++j) y[r * nb + j] = a[r * nb + j] + b[j];
  });
}

// db (nb) += sum over repeats of dy (n); one thread per chunk of columns.
void repeat_sum_f32(const float* dy, int64_t n, int64_t nb, float* db) {
  constexpr int64_t kChunk = 256;
  const int64_t rows = n / nb, chunks = (nb + kChunk - 1) / kChunk;
  parallel_for_if(n > kParallelMin, 0, chunks, [&](int64_t c) {
    const int64_t j0 = c * kChunk, j1 = std::min(nb, j0 + kChunk);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = j0; j < j1; ++j) db[j] += dy[r * nb + j];
  });
}

// The f32 hot path: same shapes (residual adds) or b a suffix of a (wpe).
Var add_f32_fast(const Var& a, const Var& b) {
  const Tensor A = a.value().contiguous(), B = b.value().contiguous();
  const int64_t n = A.numel(), nb = B.numel();
  Tensor Y = Tensor::uninitialized(A.shape(), DType::F32);
  add_f32_kernel(A.data_f32(), B.data_f32(), Y.data_f32(), n, nb);
  // da = db = dy: b takes a copy (or its sum over repeats), then a takes dy
  // itself (moved, no copy: this node's grad is freed after its backward).
  return make_op_result(Y, {a, b}, "add", [n, nb](Node& self) {
    if (nb == n) {
      accumulate_grad(self.parents[1], self.grad);
    } else if (Tensor* db = grad_accumulator(self.parents[1])) {
      repeat_sum_f32(self.grad.data_f32(), n, nb, db->data_f32());
    }
    accumulate_grad_owned(self.parents[0], std::move(self.grad));
  });
}

}  // namespace

// ---- add / sub: y = a ± b;  da = dy, db = ±dy (each summed to its shape) ---------
Var add(const Var& a, const Var& b) {
  check_defined(a, "add");
  check_defined(b, "add");
  check_same_dtype(a.value(), b.value(), "add");
  ProfileScope prof(OpClass::Other, false);
  if (a.value().dtype() == DType::F32 && is_suffix_shape(a.shape(), b.shape()))
    return add_f32_fast(a, b);
  Tensor y = cpurich::add(a.value(), b.value());
  return make_op_result(y, {a, b}, "add", [](Node& self) {
    accumulate_reduced(self.parents[0], self.grad);
    accumulate_reduced(self.parents[1], self.grad);
  });
}

Var sub(const Var& a, const Var& b) {
  check_defined(a, "sub");
  check_defined(b, "sub");
  check_same_dtype(a.value(), b.value(), "sub");
  ProfileScope prof(OpClass::Other, false);
  Tensor y = cpurich::sub(a.value(), b.value());
  return make_op_result(y, {a, b}, "sub", [](Node& self) {
    accumulate_reduced(self.parents[0], self.grad);
    if (self.parents[1].requires_grad()) accumulate_reduced(self.parents[1], neg(self.grad));
  });
}

// ---- mul: y = a * b;  da = dy * b, db = dy * a ------------------------------------
Var mul(const Var& a, const Var& b) {
  check_defined(a, "mul");
  check_defined(b, "mul");
  check_same_dtype(a.value(), b.value(), "mul");
  ProfileScope prof(OpClass::Other, false);
  const Tensor A = a.value(), B = b.value();
  Tensor y = cpurich::mul(A, B);
  return make_op_result(y, {a, b}, "mul", [A, B](Node& self) {
    if (self.parents[0].requires_grad())
      accumulate_reduced(self.parents[0], cpurich::mul(self.grad, B));
    if (self.parents[1].requires_grad())
      accumulate_reduced(self.parents[1], cpurich::mul(self.grad, A));
  });
}

// ---- div: y = a / b;  da = dy / b, db = -dy * a / b^2 -------------------------------
Var div(const Var& a, const Var& b) {
  check_defined(a, "div");
  check_defined(b, "div");
  check_same_dtype(a.value(), b.value(), "div");
  ProfileScope prof(OpClass::Other, false);
  const Tensor A = a.value(), B = b.value();
  Tensor y = cpurich::div(A, B);
  return make_op_result(y, {a, b}, "div", [A, B](Node& self) {
    if (self.parents[0].requires_grad())
      accumulate_reduced(self.parents[0], cpurich::div(self.grad, B));
    if (self.parents[1].requires_grad()) {
      const Tensor db = neg(cpurich::div(cpurich::mul(self.grad, A), cpurich::mul(B, B)));
      accumulate_reduced(self.parents[1], db);
    }
  });
}

// ---- scalars: y = a + s (da = dy);  y = a * s (da = s * dy) --------------------------
Var add_scalar(const Var& a, double s) {
  check_defined(a, "add_scalar");
  ProfileScope prof(OpClass::Other, false);
  return make_op_result(cpurich::add_scalar(a.value(), s), {a}, "add_scalar",
                        [](Node& self) { accumulate_grad(self.parents[0], self.grad); });
}

Var mul_scalar(const Var& a, double s) {
  check_defined(a, "mul_scalar");
  ProfileScope prof(OpClass::Other, false);
  return make_op_result(cpurich::mul_scalar(a.value(), s), {a}, "mul_scalar", [s](Node& self) {
    accumulate_grad_owned(self.parents[0], cpurich::mul_scalar(self.grad, s));
  });
}

// ---- gelu (tanh form, GPT-2) ---------------------------------------------------------
//   y = 0.5 x (1 + tanh u),   u = sqrt(2/pi) (x + 0.044715 x^3)
//   dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// The element formulas are kernels::gelu_tanh and gelu_tanh_grad
// (tensor/kernels.h); float runs their vectorised array forms in chunks.
namespace {

template <class T>
void gelu_forward(const T* x, T* y, int64_t n) {
  parallel_for_if(n > kParallelMin, 0, n, [&](int64_t i) { y[i] = kernels::gelu_tanh(x[i]); });
}

// dx (n) += dy (n) * gelu'(x (n)); with !acc, dx = ... (a fresh buffer)
template <class T>
void gelu_backward(const T* x, const T* dy, T* dx, int64_t n, bool acc) {
  parallel_for_if(n > kParallelMin, 0, n, [&](int64_t i) {
    const T g = dy[i] * kernels::gelu_tanh_grad(x[i]);
    dx[i] = acc ? dx[i] + g : g;
  });
}

// Runs an elementwise f32 kernel over chunks, one chunk per pool iteration.
template <class Kernel>
void for_chunks(int64_t n, Kernel kernel) {
  constexpr int64_t kChunk = 8192;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for_if(n > kParallelMin, 0, chunks, [&](int64_t c) {
    kernel(c * kChunk, std::min(n, (c + 1) * kChunk) - c * kChunk);
  });
}

template <>
void gelu_forward<float>(const float* x, float* y, int64_t n) {
  for_chunks(n, [&](int64_t i0, int64_t len) { kernels::gelu_tanh_forward(x + i0, y + i0, len); });
}

template <>
void gelu_backward<float>(const float* x, const float* dy, float* dx, int64_t n, bool acc) {
  for_chunks(n, [&](int64_t i0, int64_t len) {
    kernels::gelu_tanh_backward(x + i0, dy + i0, dx + i0, len, acc);
  });
}

// y = x s, s = 1/(1+e^-x);  dy/dx = s + x s (1 - s) = s (1 + x (1 - s))
template <class T>
void silu_forward(const T* x, T* y, int64_t n) {
  parallel_for_if(n > kParallelMin, 0, n,
                  [&](int64_t i) { y[i] = x[i] / (T(1) + std::exp(-x[i])); });
}

template <class T>
void silu_backward(const T* x, const T* dy, T* dx, int64_t n, bool acc) {
  parallel_for_if(n > kParallelMin, 0, n, [&](int64_t i) {
    const T s = T(1) / (T(1) + std::exp(-x[i]));
    const T g = dy[i] * s * (T(1) + x[i] * (T(1) - s));
    dx[i] = acc ? dx[i] + g : g;
  });
}

template <class T>
Var unary_op(const Var& x, const char* name, void (*fwd)(const T*, T*, int64_t),
             void (*bwd)(const T*, const T*, T*, int64_t, bool)) {
  const Tensor X = x.value().contiguous();
  Tensor Y = Tensor::uninitialized(X.shape(), X.dtype());
  fwd(ptr<T>(X), ptr<T>(Y), X.numel());
  return make_op_result(Y, {x}, name, [X, bwd](Node& self) {
    if (const GradOut dx = grad_output(self.parents[0]); dx.grad)
      bwd(ptr<T>(X), ptr<T>(self.grad), ptr<T>(*dx.grad), X.numel(), !dx.fresh);
  });
}

}  // namespace

Var gelu(const Var& x) {
  check_defined(x, "gelu");
  check_float(x.value(), "gelu");
  ProfileScope prof(OpClass::Other, false);
  if (x.value().dtype() == DType::F32)
    return unary_op<float>(x, "gelu", gelu_forward<float>, gelu_backward<float>);
  return unary_op<double>(x, "gelu", gelu_forward<double>, gelu_backward<double>);
}

Var silu(const Var& x) {
  check_defined(x, "silu");
  check_float(x.value(), "silu");
  ProfileScope prof(OpClass::Other, false);
  if (x.value().dtype() == DType::F32)
    return unary_op<float>(x, "silu", silu_forward<float>, silu_backward<float>);
  return unary_op<double>(x, "silu", silu_forward<double>, silu_backward<double>);
}

}  // namespace cpurich::ag
