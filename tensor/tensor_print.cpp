// tensor_print.cpp: Tensor::to_string, the printed form used by every lesson.
//
// What it teaches: printing an n-d array is a recursion over the dims: the last dim
// is one bracketed line, each outer dim wraps its sub-arrays in another pair of
// brackets (NumPy style). Long dims show their first and last few entries around "...".
//
//   tensor(shape=(2, 3), f32)
//   [[1, 2, 3],
//    [4, 5, 6]]
#include <cmath>
#include <cstdio>

#include "tensor/tensor.h"

namespace cpurich {

namespace {

std::string format_number(double v, DType dtype) {
  char buf[32];
  if (dtype == DType::I64)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);  // 4 significant digits: enough to read
  return buf;
}

// The indices of dim `n` that are shown: all of them, or the first and last `keep/2`
// with -1 marking the "..." in between.
std::vector<int64_t> shown_indices(int64_t n, int max_per_dim) {
  std::vector<int64_t> idx;
  if (n <= max_per_dim || max_per_dim < 2) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  const int64_t half = max_per_dim / 2;
  for (int64_t i = 0; i < half; ++i) idx.push_back(i);
  idx.push_back(-1);
  for (int64_t i = n - half; i < n; ++i) idx.push_back(i);
  return idx;
}

struct Printer {
  const Tensor& t;  // contiguous f64 copy of the tensor
  DType dtype;      // the original dtype, for integer formatting
  int max_per_dim;
  std::string out;

  // Appends the sub-array at dimension d, whose first element is at flat offset `base`.
  void print(int64_t d, int64_t base) {
    const Shape& shape = t.shape();
    const int64_t n = shape[d];
    const int64_t stride = t.strides()[d];
    const bool last = d + 1 == t.dim();
    const std::string indent(static_cast<std::size_t>(d + 1), ' ');
    // Between sub-arrays: ",", one newline per remaining dim, then the indent.
    std::string sep = ",";
    if (last)
      sep += ' ';
    else
      sep.append(static_cast<std::size_t>(t.dim() - d - 1), '\n').append(indent);
    out += '[';
    bool first = true;
    for (int64_t i : shown_indices(n, max_per_dim)) {
      if (!first) out += sep;
      first = false;
      if (i < 0)
        out += "...";
      else if (last)
        out += format_number(t.data_f64()[base + i * stride], dtype);
      else
        print(d + 1, base + i * stride);
    }
    out += ']';
  }
};

}  // namespace

std::string Tensor::to_string(int max_per_dim) const {
  std::string head = "tensor(shape=" + shape_str(shape_) + ", " + dtype_name(dtype_) + ")\n";
  const Tensor values = to(DType::F64).contiguous();
  if (dim() == 0) return head + format_number(values.item(), dtype_);
  Printer p{.t = values, .dtype = dtype_, .max_per_dim = max_per_dim, .out = {}};
  p.print(0, 0);
  return head + p.out;
}

}  // namespace cpurich
