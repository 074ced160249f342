// strided.h: how one loop walks several strided tensors at once (internal to tensor/).
//
// What it teaches: an elementwise op over views (transposed, sliced, broadcast with
// stride 0) is a walk over the *output* index space in row-major order, where every
// operand keeps its own element offset  off_k = sum_d index_d * stride_k[d].
// Two tricks make that walk fast:
//   1. collapse dims: if for every operand stride[d] == stride[d+1] * shape[d+1], dims d
//      and d+1 behave like one longer dim. A contiguous tensor collapses to a single
//      dim, so the general path costs nothing extra in the common case.
//   2. chunks: the walk is cut into (row, piece of the innermost dim) chunks; each chunk
//      finds its start offsets on its own, so the pool's threads can take chunks in any
//      order. Elementwise ops write each output once, so results never depend on the
//      thread count.
//
// Pipeline position: under every op in ops_*.cpp, copy_from, fill and the RNG fill.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace cpurich::detail {

/// Below this many elements a loop runs on one thread (thread start-up costs more).
inline constexpr int64_t kParallelThreshold = 32768;

/// A row-major walk over `shape` for several operands, each with its own strides
/// (in elements). After make_plan the dims are collapsed and size-1 dims dropped.
struct StridedPlan {
  Shape shape;                 ///< collapsed iteration shape, at least one dim
  std::vector<Shape> strides;  ///< strides[k] for operand k, same length as shape
  int64_t numel = 0;           ///< total number of elements walked

  /// Length of the innermost dim (the unit-stride candidates).
  int64_t inner() const { return shape.back(); }
  /// Innermost stride of operand k.
  int64_t inner_stride(int k) const { return strides[k].back(); }
  /// Start offsets of every operand for row `row` (a flat index over all but the last dim).
  void row_offsets(int64_t row, int64_t* offsets) const;
};

/// Builds a collapsed plan; every entry of `strides` must have shape.size() entries.
StridedPlan make_plan(const Shape& shape, const std::vector<Shape>& strides);

/// Number of elements per chunk of the innermost dim handed to one thread.
inline constexpr int64_t kChunk = 4096;

/// Calls fn(offsets, count) for every chunk of the plan: `offsets` are the start
/// offsets of each operand, `count` elements follow with the plan's inner strides.
/// Runs chunks in parallel (parallel.h) when the plan has more than kParallelThreshold
/// elements; fn must only write elements of its own chunk.
template <typename Fn>
void for_each_chunk(const StridedPlan& plan, Fn&& fn) {
  if (plan.numel == 0) return;
  const int64_t inner = plan.inner();
  const int64_t rows = plan.numel / inner;
  const int64_t pieces = (inner + kChunk - 1) / kChunk;  // chunks per row
  const int64_t tasks = rows * pieces;
  const int nops = static_cast<int>(plan.strides.size());
  auto run_task = [&](int64_t t) {
    int64_t offs[4] = {0, 0, 0, 0};
    const int64_t row = t / pieces;
    const int64_t start = (t % pieces) * kChunk;
    plan.row_offsets(row, offs);
    for (int k = 0; k < nops; ++k) offs[k] += start * plan.inner_stride(k);
    const int64_t count = inner - start < kChunk ? inner - start : kChunk;
    fn(offs, count);
  };
  // small: waking a thread would cost more than the work
  parallel_for_if(plan.numel > kParallelThreshold, 0, tasks, run_task);
}

}  // namespace cpurich::detail
