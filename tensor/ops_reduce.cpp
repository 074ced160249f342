// ops_reduce.cpp: sum / mean / max / argmax along an axis, sum_all, sum_to_shape.
//
// What it teaches: reducing axis d of a contiguous tensor of shape (..., L, ...) is a
// loop over a 3-d view (outer, L, inner), where outer = product of the dims before d and
// inner = product of the dims after d:
//     out[o, j] = sum_{k=0..L-1} x[o, k, j]
// Walking k in the outer loop and j in the inner one reads x row by row (cache friendly)
// while each out[o, j] still receives its terms in the fixed order k = 0, 1, ..., L-1.
// Floating-point addition is not associative, so that fixed order matters: threads split
// the (o, j) outputs, never one sum, which makes results bitwise identical for any
// thread count. f32 sums accumulate in double: cheap, and much less rounding error.
//
// Pipeline position: losses, layer-norm statistics, and (through sum_to_shape) the
// backward pass of every broadcasting op.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/strided.h"

namespace cpurich {

namespace {

// The (outer, len, inner) view of reducing `axis` of `shape`.
struct Geometry {
  int64_t outer = 1, len = 1, inner = 1;
  Shape out_shape;
};

Geometry geometry(const Tensor& a, int64_t axis, bool keepdim, const char* op) {
  if (a.dtype() == DType::I64)
    throw std::invalid_argument(std::string(op) + ": reductions need f32 or f64 tensors, got i64");
  int64_t d = 0;
  try {
    d = a.normalize_axis(axis);
  } catch (const std::out_of_range& e) {
    throw std::out_of_range(std::string(op) + ": " + e.what());
  }
  Geometry g;
  for (int64_t i = 0; i < a.dim(); ++i) {
    const int64_t n = a.shape()[i];
    if (i < d) g.outer *= n;
    if (i > d) g.inner *= n;
    if (i == d) g.len = n;
    if (i != d)
      g.out_shape.push_back(n);
    else if (keepdim)
      g.out_shape.push_back(1);
  }
  return g;
}

template <typename T>
const T* cdata(const Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_f32();
  else
    return t.data_f64();
}
template <typename T>
T* mdata(Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_f32();
  else
    return t.data_f64();
}

// How the (o, j) outputs are cut into tasks. Each task owns whole sums, so the cut
// never changes a result; it only has to give every thread work. Reading whole rows
// (one task per o) streams memory best; only when there are fewer rows than threads
// is the inner dim cut into pieces (e.g. a bias gradient (16384, 768) -> (768)).
struct Split {
  int64_t pieces = 1;  // tasks per o
  int64_t chunk = 1;   // outputs j per task
};

Split split_inner(const Geometry& g) {
  Split s;
  const int64_t threads = parallel_width();
  if (g.outer < threads && g.inner >= 128) s.pieces = std::min<int64_t>(threads, g.inner / 64);
  s.chunk = (g.inner + s.pieces - 1) / s.pieces;
  s.chunk = (s.chunk + 15) / 16 * 16;  // whole cache lines per task
  s.pieces = (g.inner + s.chunk - 1) / s.chunk;
  return s;
}

bool is_big(const Geometry& g) {
  return g.outer * g.len * g.inner > detail::kParallelThreshold;
}

// x (outer, len, inner) contiguous -> out (outer, inner) = scale * sum over len.
template <typename T>
void sum_kernel(const T* x, T* out, const Geometry& g, double scale) {
  if (g.inner == 1) {  // summing contiguous rows: one running total per row
    parallel_for_if(is_big(g), 0, g.outer, [&](int64_t o) {
      const T* row = x + o * g.len;  // row is (len)
      double acc = 0.0;
      for (int64_t k = 0; k < g.len; ++k) acc += static_cast<double>(row[k]);
      out[o] = static_cast<T>(acc * scale);
    });
    return;
  }
  const Split sp = split_inner(g);
  parallel_for_if(is_big(g), 0, g.outer * sp.pieces, [&](int64_t t0, int64_t t1) {
    std::vector<double> acc(static_cast<std::size_t>(sp.chunk));  // one buffer per chunk
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / sp.pieces, j0 = (t % sp.pieces) * sp.chunk;
      const int64_t nj = std::min(sp.chunk, g.inner - j0);
      double* a = acc.data();
      for (int64_t j = 0; j < nj; ++j) a[j] = 0.0;
      const T* base = x + o * g.len * g.inner + j0;
      for (int64_t k = 0; k < g.len; ++k) {
        const T* row = base + k * g.inner;  // row is (nj) of x[o, k, :]
        for (int64_t j = 0; j < nj; ++j) a[j] += static_cast<double>(row[j]);
      }
      for (int64_t j = 0; j < nj; ++j) out[o * g.inner + j0 + j] = static_cast<T>(a[j] * scale);
    }
  });
}

// Is v a new maximum over best? Strictly greater keeps the *first* maximum, and NaN
// wins once (then nothing beats it), so a NaN anywhere makes the result NaN.
template <typename T>
bool beats(T v, T best) {
  return v > best || (std::isnan(v) && !std::isnan(best));
}

// x (outer, len, inner) contiguous -> the first maximum over len: its value into
// `vals` and/or its index into `idx` (either may be null).
template <typename T>
void max_kernel(const T* x, T* vals, int64_t* idx, const Geometry& g) {
  const Split sp = split_inner(g);
  parallel_for_if(is_big(g), 0, g.outer * sp.pieces, [&](int64_t t0, int64_t t1) {
    std::vector<T> best(static_cast<std::size_t>(sp.chunk));
    std::vector<int64_t> arg(static_cast<std::size_t>(sp.chunk));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / sp.pieces, j0 = (t % sp.pieces) * sp.chunk;
      const int64_t nj = std::min(sp.chunk, g.inner - j0);
      const T* base = x + o * g.len * g.inner + j0;
      for (int64_t j = 0; j < nj; ++j) best[j] = base[j], arg[j] = 0;
      for (int64_t k = 1; k < g.len; ++k) {
        const T* row = base + k * g.inner;  // row is (nj) of x[o, k, :]
        for (int64_t j = 0; j < nj; ++j)
          if (beats(row[j], best[j])) best[j] = row[j], arg[j] = k;
      }
      for (int64_t j = 0; j < nj; ++j) {
        if (vals) vals[o * g.inner + j0 + j] = best[j];
        if (idx) idx[o * g.inner + j0 + j] = arg[j];
      }
    }
  });
}

Tensor sum_or_mean(const Tensor& a, int64_t axis, bool keepdim, bool is_mean) {
  const Geometry g = geometry(a, axis, keepdim, is_mean ? "mean" : "sum");
  const Tensor x = a.contiguous();
  Tensor out = Tensor::empty(g.out_shape, a.dtype());
  // mean over an empty axis is 0/0 = NaN, as in NumPy.
  const double scale = is_mean ? 1.0 / static_cast<double>(g.len) : 1.0;
  if (a.dtype() == DType::F32)
    sum_kernel(cdata<float>(x), mdata<float>(out), g, scale);
  else
    sum_kernel(cdata<double>(x), mdata<double>(out), g, scale);
  return out;
}

Tensor max_or_argmax(const Tensor& a, int64_t axis, bool keepdim, bool want_index) {
  const char* op = want_index ? "argmax" : "max";
  const Geometry g = geometry(a, axis, keepdim, op);
  if (g.len == 0)
    throw ShapeError(std::string(op) + ": cannot reduce an empty axis " + std::to_string(axis) +
                     " of shape " + shape_str(a.shape()));
  const Tensor x = a.contiguous();
  Tensor out = Tensor::empty(g.out_shape, want_index ? DType::I64 : a.dtype());
  int64_t* idx = want_index ? out.data_i64() : nullptr;
  if (a.dtype() == DType::F32)
    max_kernel(cdata<float>(x), want_index ? nullptr : mdata<float>(out), idx, g);
  else
    max_kernel(cdata<double>(x), want_index ? nullptr : mdata<double>(out), idx, g);
  return out;
}

}  // namespace

Tensor sum(const Tensor& a, int64_t axis, bool keepdim) {
  return sum_or_mean(a, axis, keepdim, false);
}
Tensor mean(const Tensor& a, int64_t axis, bool keepdim) {
  return sum_or_mean(a, axis, keepdim, true);
}
Tensor max(const Tensor& a, int64_t axis, bool keepdim) {
  return max_or_argmax(a, axis, keepdim, false);
}
Tensor argmax(const Tensor& a, int64_t axis, bool keepdim) {
  return max_or_argmax(a, axis, keepdim, true);
}

Tensor sum_all(const Tensor& a) {
  if (a.dtype() == DType::I64)
    throw std::invalid_argument("sum_all: reductions need f32 or f64 tensors, got i64");
  // Flatten to (1, numel, 1) and reuse the axis kernel: one thread, order 0..n-1.
  const Tensor flat = a.contiguous().view({1, a.numel(), 1});
  return sum(flat, 1).view({});
}

Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
  const Shape& gs = grad.shape();
  const auto fail = [&] {
    return ShapeError("sum_to_shape: cannot sum " + shape_str(gs) + " down to " + shape_str(shape));
  };
  if (shape.size() > gs.size()) throw fail();
  const std::size_t lead = gs.size() - shape.size();
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != gs[lead + d] && shape[d] != 1) throw fail();
  // 1) the leading dims broadcasting added: flatten them into one and sum it away.
  Tensor r = grad.contiguous();
  if (lead > 0) {
    Shape flat = {shape_numel(Shape(gs.begin(), gs.begin() + static_cast<int64_t>(lead)))};
    flat.insert(flat.end(), gs.begin() + static_cast<int64_t>(lead), gs.end());
    r = sum(r.view(flat), 0);
  }
  // 2) dims that were 1 in `shape` and got stretched: sum them, keeping a size-1 dim.
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (shape[d] == 1 && r.shape()[d] != 1) r = sum(r, static_cast<int64_t>(d), true);
  return r.shares_storage_with(grad) ? r.clone() : r;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw ShapeError("max_abs_diff: shapes " + shape_str(a.shape()) + " and " +
                     shape_str(b.shape()) + " differ");
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  double worst = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    if (va[i] == vb[i]) continue;  // also equal infinities, whose difference is NaN
    const double d = std::fabs(va[i] - vb[i]);
    if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
    worst = std::max(worst, d);
  }
  return worst;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  for (std::size_t i = 0; i < va.size(); ++i) {
    if (va[i] == vb[i]) continue;
    // NaN fails this test (every comparison with NaN is false), as it should.
    if (!(std::fabs(va[i] - vb[i]) <= atol + rtol * std::fabs(vb[i]))) return false;
  }
  return true;
}

}  // namespace cpurich
