// ops_shape.cpp: reductions (sum, mean) and views (reshape, transpose, slice).
//
// What it teaches: these ops only move or add numbers, so their backward
// passes move the gradient back the same way:
//   sum over an axis     -> dy is broadcast (copied) along that axis
//   mean over an axis    -> the same, divided by the axis length
//   reshape / transpose  -> dy reshaped / transposed back
//   slice                -> dy added into the sliced window of a zero gradient
//
// Pipeline position: splitting heads, the loss mean, lessons and tests.
#include "autograd/ops.h"
#include "autograd/ops_internal.h"
#include "tensor/ops.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// dy of a reduction over `axis` (kept or not) broadcast back to `shape`, times s.
Tensor expand_back(const Tensor& dy, const Shape& shape, int64_t axis, bool keepdim, double s) {
  Tensor g = keepdim ? dy : dy.unsqueeze(axis);
  if (s != 1.0) g = mul_scalar(g, s);
  return g.expand(shape);
}

Var reduce_axis(const Var& a, int64_t axis, bool keepdim, bool is_mean) {
  const char* name = is_mean ? "mean" : "sum";
  check_defined(a, name);
  check_float(a.value(), name);
  ProfileScope prof(OpClass::Other, false);
  const int64_t ax = a.value().normalize_axis(axis);
  const Shape in_shape = a.shape();
  const double s = is_mean ? 1.0 / static_cast<double>(in_shape[static_cast<size_t>(ax)]) : 1.0;
  Tensor y = is_mean ? cpurich::mean(a.value(), ax, keepdim) : cpurich::sum(a.value(), ax, keepdim);
  return make_op_result(y, {a}, name, [in_shape, ax, keepdim, s](Node& self) {
    accumulate_grad(self.parents[0], expand_back(self.grad, in_shape, ax, keepdim, s));
  });
}

}  // namespace

// ---- sum / mean: y = sum_i a_i (or / n);  da_i = dy (or dy / n) ------------------------
Var sum(const Var& a, int64_t axis, bool keepdim) {
  return reduce_axis(a, axis, keepdim, false);
}
Var mean(const Var& a, int64_t axis, bool keepdim) {
  return reduce_axis(a, axis, keepdim, true);
}

Var sum_all(const Var& a) {
  check_defined(a, "sum_all");
  check_float(a.value(), "sum_all");
  ProfileScope prof(OpClass::Other, false);
  return make_op_result(cpurich::sum_all(a.value()), {a}, "sum_all", [](Node& self) {
    const Var& p = self.parents[0];
    accumulate_grad_owned(p, Tensor::full(p.shape(), self.grad.item(), p.value().dtype()));
  });
}

Var mean_all(const Var& a) {
  check_defined(a, "mean_all");
  check_float(a.value(), "mean_all");
  if (a.value().numel() == 0) throw ShapeError("mean_all: empty tensor " + shape_str(a.shape()));
  ProfileScope prof(OpClass::Other, false);
  const double n = static_cast<double>(a.value().numel());
  Tensor y = cpurich::mul_scalar(cpurich::sum_all(a.value()), 1.0 / n);
  return make_op_result(y, {a}, "mean_all", [n](Node& self) {
    const Var& p = self.parents[0];
    accumulate_grad_owned(p, Tensor::full(p.shape(), self.grad.item() / n, p.value().dtype()));
  });
}

// ---- views -------------------------------------------------------------------------------
Var reshape(const Var& a, const Shape& shape) {
  check_defined(a, "reshape");
  const Shape in_shape = a.shape();
  return make_op_result(a.value().reshape(shape), {a}, "reshape", [in_shape](Node& self) {
    // The reshaped grad shares self.grad's storage, which the engine drops right
    // after this backward: it is handed over to the parent without a copy.
    accumulate_grad_owned(self.parents[0], self.grad.reshape(in_shape));
  });
}

// Swapping two axes is its own inverse: dy is transposed back the same way.
Var transpose(const Var& a, int64_t d0, int64_t d1) {
  check_defined(a, "transpose");
  return make_op_result(a.value().transpose(d0, d1), {a}, "transpose", [d0, d1](Node& self) {
    accumulate_grad(self.parents[0], self.grad.transpose(d0, d1));
  });
}

//! [slice_op]
Var slice(const Var& a, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  check_defined(a, "slice");
  return make_op_result(a.value().slice(axis, start, stop, step), {a}, "slice",
                        [axis, start, stop, step](Node& self) {
                          Tensor* da = grad_accumulator(self.parents[0]);
                          if (!da) return;
                          Tensor window = da->slice(axis, start, stop, step);
                          window.copy_from(cpurich::add(window, self.grad));
                        });
}
//! [slice_op]

}  // namespace cpurich::ag
