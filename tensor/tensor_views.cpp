// tensor_views.cpp: reshape, transpose, slice, expand... as pure metadata changes.
//
// What it teaches: each view returns a Tensor on the *same* Storage with new
// shape/strides/offset, so it costs O(dim) whatever the tensor size:
//   transpose(a, b)        swap shape[a] <-> shape[b] and stride[a] <-> stride[b]
//   slice(ax, lo, hi, st)  offset += lo * stride[ax];  stride[ax] *= st
//   expand                 a size-1 dim gets stride 0: every index reads the same element
//   view                   regroup dims; only possible when the old strides allow it
// reshape() falls back to a copy exactly when view() is impossible (e.g. after a
// transpose, the rows of the new shape are no longer evenly spaced in memory).
//
// Pipeline position: attention splits (B,T,C) into heads with view + transpose.
#include <optional>

#include "tensor/tensor.h"

namespace cpurich {

namespace {

// Replaces a single -1 in `shape` by the size that keeps numel; throws otherwise.
Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* who) {
  Shape out = shape;
  int64_t known = 1, minus_one = -1;
  for (std::size_t d = 0; d < out.size(); ++d) {
    if (out[d] == -1) {
      if (minus_one >= 0)
        throw ShapeError(std::string(who) + ": only one dim may be -1 in " + shape_str(shape));
      minus_one = static_cast<int64_t>(d);
    } else if (out[d] < 0) {
      throw ShapeError(std::string(who) + ": negative dimension in " + shape_str(shape));
    } else {
      known *= out[d];
    }
  }
  if (minus_one >= 0) {
    if (known == 0 || numel % known != 0)
      throw ShapeError(std::string(who) + ": cannot reshape " + shape_str(from) + " (" +
                       std::to_string(numel) + " elements) to " + shape_str(shape));
    out[minus_one] = numel / known;
  } else if (known != numel) {
    throw ShapeError(std::string(who) + ": cannot reshape " + shape_str(from) + " (" +
                     std::to_string(numel) + " elements) to " + shape_str(shape) + " (" +
                     std::to_string(known) + " elements)");
  }
  return out;
}

// Strides that let `new_shape` view the same elements as (old_shape, old_strides), or
// nullopt. Idea: split the old dims into "chunks" that are contiguous among themselves
// (stride[d] == stride[d+1] * shape[d+1]); a new dim may only span elements inside one
// chunk, because jumping from one chunk to the next is not a constant stride.
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides,
                                  const Shape& new_shape) {
  Shape strides(new_shape.size(), 1);
  if (shape_numel(old_shape) == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  int64_t nd = static_cast<int64_t>(new_shape.size()) - 1;  // next new dim to fill (right to left)
  int64_t chunk_stride = old_strides.back();                // stride of the chunk's innermost dim
  int64_t old_numel = 1, new_numel = 1;                     // elements covered so far in this chunk
  for (int64_t od = static_cast<int64_t>(old_shape.size()) - 1; od >= 0; --od) {
    old_numel *= old_shape[od];
    const bool chunk_ends =
        od == 0 || (old_shape[od - 1] != 1 && old_strides[od - 1] != old_numel * chunk_stride);
    if (!chunk_ends) continue;
    // Give new dims (right to left) strides inside this chunk until they cover it.
    while (nd >= 0 && (new_numel < old_numel || new_shape[nd] == 1)) {
      strides[nd] = new_numel * chunk_stride;
      new_numel *= new_shape[nd];
      --nd;
    }
    if (new_numel != old_numel) return std::nullopt;  // a new dim straddles two chunks
    if (od > 0) {
      chunk_stride = old_strides[od - 1];
      old_numel = new_numel = 1;
    }
  }
  if (nd != -1) return std::nullopt;
  return strides;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  const Shape target = infer_shape(shape, numel(), shape_, "view");
  const auto strides = view_strides(shape_, strides_, target);
  if (!strides)
    throw ShapeError("view: cannot view shape " + shape_str(shape_) + " with strides " +
                     shape_str(strides_) + " as " + shape_str(target) +
                     " without a copy; use reshape()");
  return Tensor(storage_, target, *strides, offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  const Shape target = infer_shape(shape, numel(), shape_, "reshape");
  if (const auto strides = view_strides(shape_, strides_, target))
    return Tensor(storage_, target, *strides, offset_, dtype_);
  return clone().view(target);  // the copy is contiguous, so view always works
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  const int64_t da = normalize_axis(a), db = normalize_axis(b);
  Shape shape = shape_, strides = strides_;
  std::swap(shape[da], shape[db]);
  std::swap(strides[da], strides[db]);
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  if (static_cast<int64_t>(order.size()) != dim())
    throw std::invalid_argument("permute: order has " + std::to_string(order.size()) +
                                " entries for shape " + shape_str(shape_));
  Shape shape(order.size()), strides(order.size());
  std::vector<bool> seen(order.size(), false);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const int64_t d = normalize_axis(order[i]);
    if (seen[d])
      throw std::invalid_argument("permute: axis " + std::to_string(order[i]) +
                                  " repeated for shape " + shape_str(shape_));
    seen[d] = true;
    shape[i] = shape_[d];
    strides[i] = strides_[d];
  }
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::slice(int64_t axis, int64_t start, int64_t stop, int64_t step) const {
  const int64_t d = normalize_axis(axis);
  if (step <= 0)
    throw std::invalid_argument("slice: step must be > 0, got " + std::to_string(step));
  // Python semantics: negative bounds count from the end, then clamp to [0, size].
  const int64_t n = shape_[d];
  auto clamp = [n](int64_t i) { return i < 0 ? std::max<int64_t>(i + n, 0) : std::min(i, n); };
  start = clamp(start);
  stop = clamp(stop);
  const int64_t len = stop > start ? (stop - start + step - 1) / step : 0;
  Shape shape = shape_, strides = strides_;
  shape[d] = len;
  strides[d] = strides_[d] * step;
  const int64_t offset = len > 0 ? offset_ + start * strides_[d] : offset_;
  return Tensor(storage_, shape, strides, offset, dtype_);
}

Tensor Tensor::expand(const Shape& shape) const {
  const auto fail = [&] {
    return ShapeError("expand: cannot expand " + shape_str(shape_) + " to " + shape_str(shape));
  };
  if (shape.size() < shape_.size()) throw fail();
  const std::size_t lead = shape.size() - shape_.size();  // new leading dims
  Shape out_shape(shape.size()), strides(shape.size(), 0);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d < lead) {  // a new leading dim: every index reads the same data (stride 0)
      if (shape[d] < 0) throw fail();
      out_shape[d] = shape[d];
      continue;
    }
    const int64_t have = shape_[d - lead];
    const int64_t want = shape[d] == -1 ? have : shape[d];  // -1 keeps the size
    if (want == have) {
      out_shape[d] = have;
      strides[d] = strides_[d - lead];
    } else if (have == 1 && want >= 0) {
      out_shape[d] = want;  // stride stays 0: the one element repeats
    } else {
      throw fail();
    }
  }
  return Tensor(storage_, out_shape, strides, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t axis) const {
  const int64_t d = normalize_axis(axis);
  if (shape_[d] != 1)
    throw ShapeError("squeeze: axis " + std::to_string(axis) + " of shape " + shape_str(shape_) +
                     " has size " + std::to_string(shape_[d]) + ", not 1");
  Shape shape = shape_, strides = strides_;
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  const int64_t n = dim() + 1;  // the result's rank: axis may equal dim()
  if (axis < -n || axis >= n)
    throw std::out_of_range("unsqueeze: axis " + std::to_string(axis) + " out of range for shape " +
                            shape_str(shape_));
  const int64_t d = axis < 0 ? axis + n : axis;
  Shape shape = shape_, strides = strides_;
  // The new size-1 dim's stride is never used to move; pick the "contiguous" value.
  const int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

}  // namespace cpurich
