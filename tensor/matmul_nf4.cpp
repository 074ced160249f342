// matmul_nf4.cpp: GEMMs against an NF4 weight, decoded panel by panel (see matmul_nf4.h).
#include "tensor/matmul_nf4.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <vector>

#include "tensor/matmul.h"
#include "tensor/parallel.h"

namespace cpurich {

namespace {

// Panels smaller than this many weights decode on the calling thread: waking
// the team costs more than decoding them.
constexpr int64_t kParallelDecodeMin = 32768;

void check_nf4(const QuantMatrix& q, const char* what) {
  if (q.format != QuantFormat::NF4)
    throw std::invalid_argument(std::string(what) + ": the weight is not NF4");
}

// W (out, in) decoded whole: the references only.
std::vector<float> decode_all(const QuantMatrix& q) {
  std::vector<float> w(static_cast<size_t>(q.rows * q.cols));
  dequantize_matrix(q, w);
  return w;
}

// panel (r1 - r0, in) = rows [r0, r1) of W, one row per task (a row's blocks
// decode independently of every other row).
void decode_panel(const QuantMatrix& q, int64_t r0, int64_t r1, float* panel) {
  const int64_t in = q.cols;
  parallel_for_if((r1 - r0) * in > kParallelDecodeMin, r0, r1, [&](int64_t r) {
    dequantize_matrix_row(q, r, std::span<float>(panel + (r - r0) * in, static_cast<size_t>(in)));
  });
}

}  // namespace

void nf4_matmul_xwt_naive(const QuantMatrix& q, const float* x, int64_t n, float beta, float* y) {
  check_nf4(q, "nf4_matmul_xwt_naive");
  const int64_t out = q.rows, in = q.cols;
  const std::vector<float> w = decode_all(q);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0.0;
      for (int64_t c = 0; c < in; ++c)
        acc += static_cast<double>(x[i * in + c]) * w[static_cast<size_t>(o * in + c)];
      const float prev = beta == 0.0f ? 0.0f : beta * y[i * out + o];
      y[i * out + o] = prev + static_cast<float>(acc);
    }
}

void nf4_matmul_xwt(const QuantMatrix& q, const float* x, int64_t n, float beta, float* y) {
  check_nf4(q, "nf4_matmul_xwt");
  const int64_t out = q.rows, in = q.cols;
  //! [nf4_panels]
  std::vector<float> panel(static_cast<size_t>(std::min(out, kNF4PanelRows) * in));
  for (int64_t r0 = 0; r0 < out; r0 += kNF4PanelRows) {
    const int64_t r1 = std::min(out, r0 + kNF4PanelRows);
    decode_panel(q, r0, r1, panel.data());
    // y[:, r0:r1] (n, r1-r0) = beta y + x (n, in) @ panel^T (in, r1-r0)
    gemm(GemmArgs{.trans_a = false,
                  .trans_b = true,
                  .m = n,
                  .n = r1 - r0,
                  .k = in,
                  .a = x,
                  .lda = in,
                  .b = panel.data(),
                  .ldb = in,
                  .beta = beta,
                  .c = y + r0,
                  .ldc = out});
  }
  //! [nf4_panels]
}

void nf4_matmul_dyw_naive(const QuantMatrix& q, const float* dy, int64_t n, float beta, float* dx) {
  check_nf4(q, "nf4_matmul_dyw_naive");
  const int64_t out = q.rows, in = q.cols;
  const std::vector<float> w = decode_all(q);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < in; ++c) {
      double acc = 0.0;
      for (int64_t o = 0; o < out; ++o)
        acc += static_cast<double>(dy[i * out + o]) * w[static_cast<size_t>(o * in + c)];
      const float prev = beta == 0.0f ? 0.0f : beta * dx[i * in + c];
      dx[i * in + c] = prev + static_cast<float>(acc);
    }
}

void nf4_matmul_dyw(const QuantMatrix& q, const float* dy, int64_t n, float beta, float* dx) {
  check_nf4(q, "nf4_matmul_dyw");
  const int64_t out = q.rows, in = q.cols;
  if (out == 0) {  // no panel: dx = beta dx
    for (int64_t i = 0; i < n * in; ++i) dx[i] = beta == 0.0f ? 0.0f : beta * dx[i];
    return;
  }
  std::vector<float> panel(static_cast<size_t>(std::min(out, kNF4PanelRows) * in));
  for (int64_t r0 = 0; r0 < out; r0 += kNF4PanelRows) {
    const int64_t r1 = std::min(out, r0 + kNF4PanelRows);
    decode_panel(q, r0, r1, panel.data());
    // dx (n, in) (+)= dy[:, r0:r1] (n, r1-r0) @ panel (r1-r0, in)
    gemm(GemmArgs{.trans_a = false,
                  .trans_b = false,
                  .m = n,
                  .n = in,
                  .k = r1 - r0,
                  .a = dy + r0,
                  .lda = out,
                  .b = panel.data(),
                  .ldb = in,
                  .beta = r0 == 0 ? beta : 1.0f,
                  .c = dx,
                  .ldc = in});
  }
}

}  // namespace cpurich
