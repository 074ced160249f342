// ops_elementwise.cpp: add, mul, exp, relu... with NumPy broadcasting (see ops.h).
//
// What it teaches: broadcasting needs no copies. Each input is expand()ed to the
// output shape (size-1 dims get stride 0), then one strided walk (strided.h) computes
//     out[i] = f(a[offset_a(i)], b[offset_b(i)])
// for every output index i. When both inputs are contiguous with the same shape the
// walk is a plain loop over two arrays, which the compiler vectorises.
// Each output element is written by exactly one thread, so the thread count never
// changes the result.
//
// Pipeline position: every activation, residual add and optimizer update.
#include <cmath>

#include "tensor/ops.h"
#include "tensor/strided.h"

namespace cpurich {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  // Align at the right: dim i of the result pairs a[i - (n - a.size())] with b's.
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    const int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError("cannot broadcast " + shape_str(a) + " with " + shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// F32 or F64 only: elementwise math on integer tensors is not supported.
void check_float(const Tensor& t, const char* op) {
  if (t.dtype() == DType::I64)
    throw std::invalid_argument(std::string(op) +
                                ": elementwise ops need f32 or f64 tensors, got i64");
}

void check_binary(const Tensor& a, const Tensor& b, const char* op) {
  check_float(a, op);
  check_float(b, op);
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": dtype mismatch, " + dtype_name(a.dtype()) +
                                " " + shape_str(a.shape()) + " with " + dtype_name(b.dtype()) +
                                " " + shape_str(b.shape()));
}

template <typename T>
T* data(Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_f32();
  else
    return t.data_f64();
}
template <typename T>
const T* data(const Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_f32();
  else
    return t.data_f64();
}

// An input whose last dim is strided (e.g. a transposed matrix) would be read one
// cache line per element; a tiled contiguous() copy first is cheaper when it is large.
Tensor unit_stride_last(const Tensor& t) {
  const bool strided =
      t.dim() > 0 && t.shape().back() > 1 && t.strides().back() != 1 && t.strides().back() != 0;
  return strided && t.numel() > 4096 ? t.contiguous() : t;
}

// out = f(a, b), a and b already checked. Returns a new contiguous tensor.
template <typename T, typename F>
Tensor binary_typed(const Tensor& a, const Tensor& b, const Shape& out_shape, F f) {
  Tensor out = Tensor::uninitialized(out_shape, a.dtype());
  T* o = data<T>(out);
  const int64_t n = out.numel();
  if (a.is_contiguous() && b.is_contiguous() && a.shape() == b.shape()) {
    // Fast path: three flat arrays, no index arithmetic. Cut into chunks like any plan
    // (each chunk's loop works on local pointers, which the compiler vectorises).
    const T* pa = data<T>(a);
    const T* pb = data<T>(b);
    detail::StridedPlan flat{{n}, {{1}, {1}, {1}}, n};
    detail::for_each_chunk(flat, [&](const int64_t* off, int64_t count) {
      T* po = o + off[0];
      const T* qa = pa + off[1];
      const T* qb = pb + off[2];
      for (int64_t i = 0; i < count; ++i) po[i] = f(qa[i], qb[i]);
    });
    return out;
  }
  // General path: broadcast views + collapsed strided walk.
  const Tensor ea = unit_stride_last(a).expand(out_shape);
  const Tensor eb = unit_stride_last(b).expand(out_shape);
  const auto plan = detail::make_plan(out_shape, {out.strides(), ea.strides(), eb.strides()});
  const T* pa = data<T>(ea);
  const T* pb = data<T>(eb);
  const int64_t sa = plan.inner_stride(1), sb = plan.inner_stride(2);
  detail::for_each_chunk(plan, [&](const int64_t* off, int64_t count) {
    T* po = o + off[0];  // the output is contiguous: inner stride 1
    const T* qa = pa + off[1];
    const T* qb = pb + off[2];
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < count; ++i) po[i] = f(qa[i], qb[i]);
    } else if (sa == 1 && sb == 0) {  // e.g. a row plus a per-row scalar
      for (int64_t i = 0; i < count; ++i) po[i] = f(qa[i], qb[0]);
    } else {
      for (int64_t i = 0; i < count; ++i) po[i] = f(qa[i * sa], qb[i * sb]);
    }
  });
  return out;
}

template <typename F32Op, typename F64Op>
Tensor binary(const Tensor& a, const Tensor& b, const char* op, F32Op f32, F64Op f64) {
  check_binary(a, b, op);
  Shape out_shape;
  try {
    out_shape = broadcast_shapes(a.shape(), b.shape());
  } catch (const ShapeError& e) {
    throw ShapeError(std::string(op) + ": " + e.what());
  }
  if (a.dtype() == DType::F32) return binary_typed<float>(a, b, out_shape, f32);
  return binary_typed<double>(a, b, out_shape, f64);
}

// out = f(a) elementwise.
template <typename T, typename F>
Tensor unary_typed(const Tensor& a_in, F f) {
  const Tensor a = unit_stride_last(a_in);
  Tensor out = Tensor::uninitialized(a.shape(), a.dtype());
  T* o = data<T>(out);
  const T* pa = data<T>(a);
  const auto plan = detail::make_plan(a.shape(), {out.strides(), a.strides()});
  const int64_t sa = plan.inner_stride(1);
  detail::for_each_chunk(plan, [&](const int64_t* off, int64_t count) {
    T* po = o + off[0];
    const T* qa = pa + off[1];
    if (sa == 1) {
      for (int64_t i = 0; i < count; ++i) po[i] = f(qa[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) po[i] = f(qa[i * sa]);
    }
  });
  return out;
}

// Applies `f` (a generic lambda, instantiated for float and double) to every element.
template <typename F>
Tensor unary(const Tensor& a, const char* op, F f) {
  check_float(a, op);
  if (a.dtype() == DType::F32) return unary_typed<float>(a, [&](float x) { return f(x); });
  return unary_typed<double>(a, [&](double x) { return f(x); });
}

// max(x, y) that propagates NaN from either side (ties return x).
template <typename T>
T nan_max(T x, T y) {
  return (x >= y || std::isnan(x)) ? x : y;
}

}  // namespace

// ---- binary ----------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(
      a, b, "add", [](float x, float y) { return x + y; },
      [](double x, double y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(
      a, b, "sub", [](float x, float y) { return x - y; },
      [](double x, double y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(
      a, b, "mul", [](float x, float y) { return x * y; },
      [](double x, double y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(
      a, b, "div", [](float x, float y) { return x / y; },
      [](double x, double y) { return x / y; });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary(a, b, "maximum", nan_max<float>, nan_max<double>);
}

// ---- with a scalar (computed in the tensor's own precision) -------------------------------

Tensor add_scalar(const Tensor& a, double s) {
  return unary(a, "add_scalar", [s](auto x) { return x + static_cast<decltype(x)>(s); });
}
Tensor mul_scalar(const Tensor& a, double s) {
  return unary(a, "mul_scalar", [s](auto x) { return x * static_cast<decltype(x)>(s); });
}
Tensor pow_scalar(const Tensor& a, double exponent) {
  // x^2 is common (variance, MSE) and x*x is the correctly rounded square, like pow.
  if (exponent == 2.0) return unary(a, "pow_scalar", [](auto x) { return x * x; });
  return unary(a, "pow_scalar", [exponent](auto x) {
    return static_cast<decltype(x)>(std::pow(x, static_cast<decltype(x)>(exponent)));
  });
}

// ---- unary -------------------------------------------------------------------------------

Tensor neg(const Tensor& a) {
  return unary(a, "neg", [](auto x) { return -x; });
}
Tensor exp(const Tensor& a) {
  return unary(a, "exp", [](auto x) { return std::exp(x); });
}
Tensor log(const Tensor& a) {
  return unary(a, "log", [](auto x) { return std::log(x); });
}
Tensor sqrt(const Tensor& a) {
  return unary(a, "sqrt", [](auto x) { return std::sqrt(x); });
}
Tensor tanh(const Tensor& a) {
  return unary(a, "tanh", [](auto x) { return std::tanh(x); });
}
Tensor relu(const Tensor& a) {
  // x > 0 ? x : 0, written so that NaN stays NaN (NaN > 0 is false, so test x <= 0).
  return unary(a, "relu", [](auto x) { return x <= 0 ? static_cast<decltype(x)>(0) : x; });
}

}  // namespace cpurich
