// tensor_copy.cpp: copy_from, fill, contiguous, clone and dtype conversion.
//
// What it teaches: every copy between two differently strided tensors is one walk over
// the destination's index space (strided.h) reading the source at its own offsets,
// with a dtype conversion per element. Broadcasting the source is free: expand() gives
// it stride 0 where it repeats. One special case is worth its code: copying a
// transposed matrix, done in cache-sized tiles.
//
// Pipeline position: contiguous() before kernels that need packed rows, to(F64) for
// gradient checks, fill() for initialisation.
#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "tensor/parallel.h"
#include "tensor/strided.h"
#include "tensor/tensor.h"

namespace cpurich {

// ---- copies ---------------------------------------------------------------------------------

namespace {
// True when v converts to int64 without undefined behaviour (false for NaN).
bool fits_i64(double v) {
  return v >= -9.2233720368547758e18 && v < 9.2233720368547758e18;
}

// The transpose case: the plan's last two dims (P, Q) are unit-stride in dst along Q
// but in src along P. Copying row by row would read src with a stride of a whole row
// per element (one cache miss each); 32x32 tiles keep both sides in L1 instead.
bool is_transpose_plan(const detail::StridedPlan& plan) {
  const std::size_t n = plan.shape.size();
  return n >= 2 && plan.strides[0][n - 1] == 1 && plan.strides[1][n - 2] == 1 &&
         plan.strides[1][n - 1] != 1 && plan.shape[n - 1] >= 8 && plan.shape[n - 2] >= 8;
}

template <typename D, typename S>
void copy_transposed_tiles(D* dst, const S* src, const detail::StridedPlan& plan) {
  constexpr int64_t kTile = 32;
  const std::size_t n = plan.shape.size();
  const int64_t P = plan.shape[n - 2], Q = plan.shape[n - 1];
  const int64_t dp = plan.strides[0][n - 2], sq = plan.strides[1][n - 1];
  const int64_t outer = plan.numel / (P * Q), ptiles = (P + kTile - 1) / kTile;
  parallel_for_if(plan.numel > detail::kParallelThreshold, 0, outer * ptiles, [&](int64_t t) {
    int64_t offs[4] = {0, 0, 0, 0};
    plan.row_offsets((t / ptiles) * P, offs);  // start of matrix t / ptiles
    const int64_t i0 = (t % ptiles) * kTile, i1 = std::min(P, i0 + kTile);
    for (int64_t j0 = 0; j0 < Q; j0 += kTile) {
      const int64_t j1 = std::min(Q, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i) {
        D* d = dst + offs[0] + i * dp;   // dst row i, contiguous along j
        const S* s = src + offs[1] + i;  // src column i, stride sq along j
        for (int64_t j = j0; j < j1; ++j) d[j] = static_cast<D>(s[j * sq]);
      }
    }
  });
}

// dst[i] = D(src[i]) over a plan with operand 0 = dst, operand 1 = src.
template <typename D, typename S>
void copy_kernel(D* dst, const S* src, const detail::StridedPlan& plan) {
  constexpr bool to_int = std::is_same_v<D, int64_t> && !std::is_same_v<S, int64_t>;
  if (!to_int && is_transpose_plan(plan)) return copy_transposed_tiles(dst, src, plan);
  const int64_t sd = plan.inner_stride(0), ss = plan.inner_stride(1);
  std::atomic<bool> bad{false};  // set by any chunk, checked once all are done
  detail::for_each_chunk(plan, [&](const int64_t* offs, int64_t n) {
    D* d = dst + offs[0];
    const S* s = src + offs[1];
    if (!to_int && sd == 1 && ss == 1) {  // plain contiguous run: a vectorised loop
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (to_int) {
        const double v = static_cast<double>(s[i * ss]);
        if (!fits_i64(v)) bad = true;
        d[i * sd] = fits_i64(v) ? static_cast<int64_t>(v) : 0;
      } else {
        d[i * sd] = static_cast<D>(s[i * ss]);
      }
    }
  });
  if (bad) throw std::domain_error("cannot convert NaN, infinity or out-of-range values to i64");
}

template <typename D>
void copy_typed(D* dst, const Tensor& src, const detail::StridedPlan& plan) {
  switch (src.dtype()) {
    case DType::F32:
      copy_kernel(dst, src.data_f32(), plan);
      break;
    case DType::F64:
      copy_kernel(dst, src.data_f64(), plan);
      break;
    case DType::I64:
      copy_kernel(dst, src.data_i64(), plan);
      break;
  }
}

// Writing through a stride-0 dim would store several results into one element.
void check_writable(const Tensor& t, const char* who) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.strides()[d] == 0 && t.shape()[d] > 1)
      throw std::invalid_argument(std::string(who) +
                                  ": cannot write into a broadcast view of shape " +
                                  shape_str(t.shape()) + " (stride 0); clone() it first");
}
}  // namespace

void Tensor::copy_from(const Tensor& src_in) {
  check_writable(*this, "copy_from");
  if (src_in.dim() > dim())
    throw ShapeError("copy_from: cannot broadcast " + shape_str(src_in.shape()) + " to " +
                     shape_str(shape_));
  // A source that overlaps this tensor's memory is copied first, so no element is
  // overwritten before it has been read (e.g. x.copy_from(x.transpose(0, 1))).
  const Tensor src = shares_storage_with(src_in) ? src_in.clone() : src_in;
  const Tensor s = [&] {
    try {
      return src.expand(shape_);
    } catch (const ShapeError&) {
      throw ShapeError("copy_from: cannot broadcast " + shape_str(src.shape()) + " to " +
                       shape_str(shape_));
    }
  }();
  const auto plan = detail::make_plan(shape_, {strides_, s.strides()});
  switch (dtype_) {
    case DType::F32:
      copy_typed(data_f32(), s, plan);
      break;
    case DType::F64:
      copy_typed(data_f64(), s, plan);
      break;
    case DType::I64:
      copy_typed(data_i64(), s, plan);
      break;
  }
}

void Tensor::fill(double value) {
  check_writable(*this, "fill");
  copy_from(Tensor::from_vector(std::vector<double>{value}, {}));
}

Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor out = uninitialized(shape_, dtype_);  // every element is copied in below
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = uninitialized(shape_, dtype);  // every element is converted below
  out.copy_from(*this);
  return out;
}

}  // namespace cpurich
