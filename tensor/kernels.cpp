// kernels.cpp: the array forms of the primitives in kernels.h, each compiled
// once per ISA (CPURICH_TARGET_CLONES) so the loops run 16 (AVX-512) or 8
// (AVX2) lanes at a time; the element formulas are the inline ones in the header.
//
// Pipeline position: GELU in every MLP block, vector x matrix when decoding.
#include "tensor/kernels.h"

namespace cpurich::kernels {

CPURICH_TARGET_CLONES void gelu_tanh_forward(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh(x[i]);
}

CPURICH_TARGET_CLONES void gelu_tanh_backward(const float* x, const float* dy, float* dx, int64_t n,
                                              bool accumulate) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i] * gelu_tanh_grad(x[i]);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

CPURICH_TARGET_CLONES void vecmat(const float* x, const float* w, int64_t ldw, int64_t k, int64_t n,
                                  float* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = 0.0f;
  for (int64_t p = 0; p < k; ++p) {
    const float xp = x[p];
    const float* row = w + p * ldw;  // row is (n)
    for (int64_t j = 0; j < n; ++j) y[j] += xp * row[j];
  }
}

CPURICH_TARGET_CLONES void vecmat_t(const float* x, const float* wt, int64_t ldw, int64_t k,
                                    int64_t n, float* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = dot_lanes(x, wt + j * ldw, k);
}

}  // namespace cpurich::kernels
