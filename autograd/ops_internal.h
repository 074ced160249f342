// ops_internal.h: small helpers shared by the autograd op files (not public).
//
// Every op is written once as a function template over float/double; these
// helpers pick the raw pointer of the right type and check dtypes/shapes so
// the op files can stay about the math.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "autograd/profiler.h"
#include "autograd/var.h"
#include "tensor/tensor.h"

namespace cpurich::ag::detail {

/// Work (in elements) below which waking a thread costs more than it saves.
inline constexpr int64_t kParallelMin = 32768;

/// Raw element pointer of the type T (float or double) the kernel is written for.
template <class T>
T* ptr(Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_f32();
  else
    return t.data_f64();
}
template <class T>
const T* ptr(const Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_f32();
  else
    return t.data_f64();
}

/// Throws std::invalid_argument unless t is f32 or f64.
inline void check_float(const Tensor& t, const char* op) {
  if (t.dtype() != DType::F32 && t.dtype() != DType::F64)
    throw std::invalid_argument(std::string(op) + ": expected f32 or f64, got " +
                                dtype_name(t.dtype()));
}

/// Throws ShapeError unless a and b share a dtype.
inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  check_float(a, op);
  if (a.dtype() != b.dtype())
    throw ShapeError(std::string(op) + ": dtype mismatch " + dtype_name(a.dtype()) + " vs " +
                     dtype_name(b.dtype()));
}

/// Throws ShapeError naming both shapes unless they are equal.
inline void check_same_shape(const Shape& a, const Shape& b, const char* op) {
  if (a != b)
    throw ShapeError(std::string(op) + ": shape mismatch " + shape_str(a) + " vs " + shape_str(b));
}

/// Throws std::logic_error if v is undefined (a default-constructed Var).
inline void check_defined(const Var& v, const char* op) {
  if (!v.defined()) throw std::logic_error(std::string(op) + ": undefined input Var");
}

}  // namespace cpurich::ag::detail
