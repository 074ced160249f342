// tensor_test_util.h: small builders shared by the tensor op tests, so each
// test states its input in one line (a literal tensor, or 0, 1, 2, ... in a shape).
#pragma once

#include <initializer_list>
#include <vector>

#include "tensor/tensor.h"

namespace cpurich::test {

/// A float32 tensor of the given shape holding the values v in row-major order.
inline Tensor f32(std::vector<float> v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

/// 0, 1, 2, ... laid out in `shape`: every element says where it sits.
inline Tensor iota(const Shape& shape, DType dtype = DType::F32) {
  return Tensor::arange(shape_numel(shape), dtype).reshape(shape);
}

/// Expected values written as a literal list.
inline std::vector<double> vec(std::initializer_list<double> v) {
  return v;
}

}  // namespace cpurich::test
