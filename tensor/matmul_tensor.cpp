// matmul_tensor.cpp: matmul() on Tensors, built on the raw-pointer gemm kernels.
//
// What it teaches: a GEMM kernel only needs a pointer, a leading dimension and a
// "transposed?" flag per matrix. A strided 2-D view whose columns are adjacent
// (stride 1) is row-major with ld = row stride; one whose rows are adjacent is
// the transpose of a row-major matrix, so a `.transpose(-2,-1)` view costs no
// copy: we flip the trans flag instead. Batch dims broadcast like NumPy, and a
// 2-D b (the Linear layer case, x (B,T,C) @ W (C,OC)) folds the batch into M
// so the whole layer is one big GEMM.
//
// Pipeline position: tensors -> [matmul] -> Linear, attention, their backward.
#include <optional>

#include "tensor/matmul_internal.h"
#include "tensor/parallel.h"

namespace cpurich {
namespace {

// How a stored 2-D block (rows, cols) with strides (sr, sc) maps onto GemmArgs.
struct Layout {
  int64_t ld = 0;
  bool flipped = false;  // true: the block is the transpose of a row-major matrix
};

std::optional<Layout> gemm_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc) {
  // Row-major: unit column stride (any stride is fine for a single column).
  if (sc == 1 || cols == 1) {
    const int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
    if (ld >= cols && ld >= 1) return Layout{ld, false};
  }
  // Column-major: unit row stride, i.e. a transposed row-major matrix.
  if (sr == 1 || rows == 1) {
    const int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
    if (ld >= rows && ld >= 1) return Layout{ld, true};
  }
  return std::nullopt;
}

std::optional<Layout> gemm_layout(const Tensor& t) {
  return gemm_layout(t.size(-2), t.size(-1), t.strides()[t.dim() - 2], t.strides()[t.dim() - 1]);
}

[[noreturn]] void shape_error(const Tensor& a, const Tensor& b, bool ta, bool tb,
                              const std::string& why) {
  throw ShapeError("matmul: cannot multiply " + shape_str(a.shape()) + (ta ? "^T" : "") + " by " +
                   shape_str(b.shape()) + (tb ? "^T" : "") + ": " + why);
}

// Broadcast of the batch dims (all but the last two) of a and b, NumPy rules.
Shape batch_shape(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Shape sa(a.shape().begin(), a.shape().end() - 2);
  const Shape sb(b.shape().begin(), b.shape().end() - 2);
  Shape out(std::max(sa.size(), sb.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - sa.size() ? 1 : sa[i - (out.size() - sa.size())];
    const int64_t db = i < out.size() - sb.size() ? 1 : sb[i - (out.size() - sb.size())];
    if (da != db && da != 1 && db != 1) shape_error(a, b, ta, tb, "batch dims do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Element offset of batch number `index` (row-major over `batch`) in t.
int64_t batch_offset(const Tensor& t, const Shape& batch, int64_t index) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    offset += (index % batch[d]) * t.strides()[d];
    index /= batch[d];
  }
  return offset;
}

// F64 reference: out (nb,M,N) = op(a) @ op(b) per batch, a naive double loop
// straight on the strides (used by gradient checks; speed does not matter).
void matmul_f64(const Tensor& a, const Tensor& b, bool ta, bool tb, const Shape& batch,
                Tensor& out) {
  const int64_t nb = shape_numel(batch), m = out.size(-2), n = out.size(-1);
  const int64_t k = ta ? a.size(-2) : a.size(-1);
  const int64_t d = a.dim();
  // Strides of op(A)(i,p) and op(B)(p,j): a transpose just swaps them.
  const int64_t a_si = a.strides()[ta ? d - 1 : d - 2], a_sp = a.strides()[ta ? d - 2 : d - 1];
  const int64_t b_sp = b.strides()[tb ? d - 1 : d - 2], b_sj = b.strides()[tb ? d - 2 : d - 1];
  double* o = out.data_f64();
  for (int64_t bi = 0; bi < nb; ++bi) {
    const double* pa = a.data_f64() + batch_offset(a, batch, bi);
    const double* pb = b.data_f64() + batch_offset(b, batch, bi);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < k; ++p) sum += pa[i * a_si + p * a_sp] * pb[p * b_sp + j * b_sj];
        o[(bi * m + i) * n + j] = sum;
      }
  }
}

// F32: one GEMM per batch. a and b are already expanded to the full batch shape
// and have a GEMM-compatible inner layout.
void matmul_f32(const Tensor& a, const Tensor& b, bool ta, bool tb, const Shape& batch, Tensor& out,
                MatmulKernel kernel) {
  const int64_t nb = shape_numel(batch), m = out.size(-2), n = out.size(-1);
  const Layout la = *gemm_layout(a), lb = *gemm_layout(b);
  const GemmArgs g{.trans_a = ta != la.flipped,
                   .trans_b = tb != lb.flipped,
                   .m = m,
                   .n = n,
                   .k = ta ? a.size(-2) : a.size(-1),
                   .lda = la.ld,
                   .ldb = lb.ld,
                   .ldc = std::max<int64_t>(n, 1)};
  // Many small matrices (attention heads): one thread per matrix with the
  // single-threaded packed kernel. packed and packed_mt give identical bits,
  // so this choice never changes the result.
  const bool per_batch_threads =
      kernel == MatmulKernel::PackedMT && nb >= parallel_width() && nb > 1;
  const MatmulKernel inner = per_batch_threads ? MatmulKernel::Packed : kernel;
  // An exception in any matrix reaches the caller (parallel.h rethrows it).
  parallel_for_if(per_batch_threads, 0, nb, [&](int64_t bi) {
    GemmArgs gb = g;
    gb.a = a.data_f32() + batch_offset(a, batch, bi);
    gb.b = b.data_f32() + batch_offset(b, batch, bi);
    gb.c = out.data_f32() + bi * m * n;
    gemm(inner, gb);
  });
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in, bool trans_a, bool trans_b,
              MatmulKernel kernel) {
  if (a_in.dim() < 2 || b_in.dim() < 2) shape_error(a_in, b_in, trans_a, trans_b, "need >= 2-D");
  if (a_in.dtype() != b_in.dtype())
    throw std::invalid_argument("matmul: dtypes differ (" + dtype_name(a_in.dtype()) + " and " +
                                dtype_name(b_in.dtype()) + ")");
  if (a_in.dtype() == DType::I64) throw std::invalid_argument("matmul: i64 is not supported");
  const int64_t m = trans_a ? a_in.size(-1) : a_in.size(-2);
  const int64_t ka = trans_a ? a_in.size(-2) : a_in.size(-1);
  const int64_t kb = trans_b ? b_in.size(-1) : b_in.size(-2);
  const int64_t n = trans_b ? b_in.size(-2) : b_in.size(-1);
  if (ka != kb)
    shape_error(a_in, b_in, trans_a, trans_b,
                "inner dims " + std::to_string(ka) + " and " + std::to_string(kb) + " differ");
  const Shape batch = batch_shape(a_in, b_in, trans_a, trans_b);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape, a_in.dtype());
  if (out.numel() == 0) return out;

  Tensor a = a_in, b = b_in;
  const bool f32 = a.dtype() == DType::F32;
  if (f32 && !gemm_layout(a)) a = a.contiguous();
  if (f32 && !gemm_layout(b)) b = b.contiguous();
  // Linear-layer fast path: (..., M, K) @ (K, N) is one (batch*M, K) @ (K, N) GEMM.
  if (f32 && b.dim() == 2 && !trans_a && batch.size() > 0) {
    const Tensor a2 = a.contiguous().view({shape_numel(batch) * m, ka});
    Tensor out2 = out.view({shape_numel(batch) * m, n});
    matmul_f32(a2, b, false, trans_b, Shape{}, out2, kernel);
    return out;
  }
  auto full = [&](const Tensor& t) {
    Shape s = batch;
    s.push_back(t.size(-2));
    s.push_back(t.size(-1));
    return t.expand(s);
  };
  a = full(a);
  b = full(b);
  if (f32) {
    matmul_f32(a, b, trans_a, trans_b, batch, out, kernel);
  } else {
    matmul_f64(a, b, trans_a, trans_b, batch, out);
  }
  return out;
}

}  // namespace cpurich
