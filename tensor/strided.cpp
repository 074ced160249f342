// strided.cpp: building a collapsed iteration plan over strided operands (see strided.h).
//
// What it teaches: dims can be merged when no operand "jumps" between them, and the
// start offset of row r is found by writing r in the mixed radix of the shape.
#include "tensor/strided.h"

#include <stdexcept>

namespace cpurich::detail {

StridedPlan make_plan(const Shape& shape, const std::vector<Shape>& strides) {
  if (strides.empty() || strides.size() > 4)
    throw std::invalid_argument("make_plan: between 1 and 4 operands");
  const std::size_t nops = strides.size();
  StridedPlan plan;
  plan.numel = shape_numel(shape);
  plan.strides.assign(nops, Shape{});
  // Walk the dims left to right, skipping size-1 dims (their stride never matters)
  // and merging dim d into the previous kept dim p when, for every operand,
  // stride[p] == stride[d] * shape[d]: then index (i_p, i_d) is just one index.
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !plan.shape.empty();
    for (std::size_t k = 0; k < nops && merge; ++k)
      merge = plan.strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      plan.shape.back() *= shape[d];
      for (std::size_t k = 0; k < nops; ++k) plan.strides[k].back() = strides[k][d];
    } else {
      plan.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < nops; ++k) plan.strides[k].push_back(strides[k][d]);
    }
  }
  if (plan.shape.empty()) {  // a scalar or all-ones shape: one element
    plan.shape.push_back(plan.numel);
    for (auto& s : plan.strides) s.push_back(1);
  }
  return plan;
}

void StridedPlan::row_offsets(int64_t row, int64_t* offsets) const {
  const std::size_t nops = strides.size();
  for (std::size_t k = 0; k < nops; ++k) offsets[k] = 0;
  // Peel indices off `row` from the second-to-last dim leftwards (mixed radix).
  for (std::size_t d = shape.size() - 1; d-- > 0 && row > 0;) {
    const int64_t i = row % shape[d];
    row /= shape[d];
    for (std::size_t k = 0; k < nops; ++k) offsets[k] += i * strides[k][d];
  }
}

}  // namespace cpurich::detail
