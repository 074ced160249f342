// ops.h: elementwise arithmetic with NumPy broadcasting, reductions along an
// axis, and softmax. These are the plain (no-gradient) building blocks; the
// autograd layer wraps them and adds a backward pass.
//
// Broadcasting rule (NumPy): align shapes at the right; two dims are
// compatible when equal or when one of them is 1; missing leading dims count
// as 1. (2,1,4) + (3,1) -> (2,3,4). Incompatible shapes throw ShapeError
// naming both shapes.
//
// All ops accept non-contiguous inputs, return a new contiguous tensor, and
// work for F32 and F64 (both inputs must share a dtype).
#pragma once

#include "tensor/tensor.h"

namespace cpurich {

/// The broadcast shape of a and b, or ShapeError("cannot broadcast (..) with (..)").
Shape broadcast_shapes(const Shape& a, const Shape& b);

// ---- binary, broadcasting -----------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

// ---- with a scalar -----------------------------------------------------------
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor pow_scalar(const Tensor& a, double exponent);

// ---- unary -----------------------------------------------------------------
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor relu(const Tensor& a);

// ---- reductions along one axis (negative axis counts from the end) ------------
// Sums are accumulated in the input order by one thread: bitwise reproducible.
Tensor sum(const Tensor& a, int64_t axis, bool keepdim = false);
Tensor mean(const Tensor& a, int64_t axis, bool keepdim = false);
Tensor max(const Tensor& a, int64_t axis, bool keepdim = false);
/// Index of the first maximum along axis, as an I64 tensor.
Tensor argmax(const Tensor& a, int64_t axis, bool keepdim = false);
/// Sum of every element, as a 0-d tensor.
Tensor sum_all(const Tensor& a);

/// Sums `grad` (shape = broadcast shape) back down to `shape`: the adjoint of
/// broadcasting, used by every backward pass of a broadcasting op.
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

// ---- softmax family (last axis) -------------------------------------------------
/// softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x); subtracting the
/// max changes nothing mathematically and keeps exp from overflowing.
Tensor softmax(const Tensor& a);
/// log_softmax(x)_i = x_i - max x - log sum_j exp(x_j - max x).
Tensor log_softmax(const Tensor& a);

/// Largest |a - b| over all elements (shapes must match); for tests and lessons.
double max_abs_diff(const Tensor& a, const Tensor& b);
/// True when shapes match and every element satisfies |a-b| <= atol + rtol*|b|.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace cpurich
