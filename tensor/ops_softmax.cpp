// ops_softmax.cpp: softmax and log_softmax over the last axis, numerically stable.
//
// What it teaches: exp overflows float32 past x ~ 88, and logits can be large. Since
//     softmax(x)_i = exp(x_i) / sum_j exp(x_j) = exp(x_i - m) / sum_j exp(x_j - m)
// for any m, we take m = max_j x_j: every exponent is then <= 0, so exp(.) is in (0, 1]
// and the largest term is exactly 1 (the sum can neither overflow nor be 0). Likewise
//     log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m)),
// which never computes log(0) for a finite row.
// The row loop is kernels::softmax_row (tensor/kernels.h). Rows are
// independent: threads split rows, each row is summed by one thread in order.
//
// Pipeline position: attention weights and the cross-entropy loss.
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/strided.h"

namespace cpurich {

namespace {

using kernels::SoftmaxStats;

// x (rows, n) contiguous -> out (rows, n). log_space selects log_softmax.
template <typename T>
void softmax_rows(const T* x, T* out, int64_t rows, int64_t n, bool log_space) {
  parallel_for_if(rows * n > detail::kParallelThreshold, 0, rows, [&](int64_t r) {
    const T* xr = x + r * n;  // xr is (n)
    T* yr = out + r * n;      // yr is (n)
    const SoftmaxStats<T> st = kernels::softmax_row(xr, yr, n);
    if (log_space) {
      // (x - m) first: it is the exact-ish difference the exps were computed from.
      const T log_s = std::log(st.sum);
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - st.max) - log_s;
    }
  });
}

Tensor softmax_impl(const Tensor& a, bool log_space, const char* op) {
  if (a.dtype() == DType::I64)
    throw std::invalid_argument(std::string(op) + ": needs an f32 or f64 tensor, got i64");
  if (a.dim() == 0)
    throw ShapeError(std::string(op) + ": needs at least one dim, got shape " +
                     shape_str(a.shape()));
  const Tensor x = a.contiguous();
  Tensor out = Tensor::uninitialized(a.shape(), a.dtype());
  const int64_t n = a.shape().back();
  if (n == 0 || a.numel() == 0) return out;
  const int64_t rows = a.numel() / n;
  if (a.dtype() == DType::F32)
    softmax_rows(x.data_f32(), out.data_f32(), rows, n, log_space);
  else
    softmax_rows(x.data_f64(), out.data_f64(), rows, n, log_space);
  return out;
}

}  // namespace

Tensor softmax(const Tensor& a) {
  return softmax_impl(a, false, "softmax");
}
Tensor log_softmax(const Tensor& a) {
  return softmax_impl(a, true, "log_softmax");
}

}  // namespace cpurich
