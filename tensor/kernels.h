// kernels.h: the one home of the small numerical primitives every part shares:
// exp, GELU, the fixed-order lane reductions, row softmax and vector x matrix.
//
// What it teaches: a handful of tiny loops carry most of a transformer's
// non-GEMM time, and each is easy to get subtly different if written twice.
// Written once, here, they are also the place where the three rules of the
// whole code base are spelled out:
//   * no library call inside a hot loop: exp_f32 is plain arithmetic the
//     compiler can vectorise (std::exp is a call, which blocks SIMD);
//   * reproducible sums: a sum over n terms keeps kLanes = 16 partial sums,
//     lane l taking the terms j = l, l + 16, l + 32, ... in increasing j, and
//     then folds the lanes pairwise, 8-4-2-1:
//         s[l] += s[l + 8] (l < 8),  s[l] += s[l + 4] (l < 4),
//         s[l] += s[l + 2] (l < 2),  s[0] += s[1].
//     16 independent add chains keep the adders busy and map onto SIMD
//     registers, yet the order never depends on the CPU or the thread count;
//   * one ISA-dispatch spelling (CPURICH_TARGET_CLONES) and one always-inline
//     spelling (CPURICH_INLINE). The build sets -ffp-contract=off, so every
//     a * b + c rounds twice in every clone and all clones give the same bits.
// The float versions are the fast path; the double versions (std::exp) are
// the reference the gradient checks use. Both are the same template.
//
// Pipeline position: under everything in autograd/, nn/ and infer/.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

// Hot loops are compiled three times (AVX-512, AVX2, baseline x86-64) and the
// loader picks the best for the CPU at start-up (GCC's target_clones). On
// other compilers or architectures the plain version is the only one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPURICH_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPURICH_TARGET_CLONES
#endif

// Small helpers are forced inline so each clone of their caller gets its own
// vectorised copy (a call would go to the baseline version).
#define CPURICH_INLINE inline __attribute__((always_inline))

namespace cpurich::kernels {

// ---- exp ----------------------------------------------------------------------------

/// e^x for float, |relative error| < 2e-7 on [-87, 88]; 0 below -87 (e^-87 ~
/// 1.6e-38 is near the smallest normal float, so a masked -inf logit gets
/// exactly 0), e^88 ~ 1.7e38 above 88 (no overflow), NaN for NaN.
///   e^x = 2^n * e^r   with n = round(x / ln 2) and r = x - n ln 2, |r| <= ln2/2;
/// 2^n is built directly in the float's exponent bits, e^r is a degree-7
/// polynomial (Cephes' expf coefficients).
CPURICH_INLINE float exp_f32(float x_in) {
  // Clamped so 2^n below stays a normal float; the select at the end
  // (a blend, still vectorisable) flushes the low side to 0.
  const float x = x_in < -87.0f ? -87.0f : (x_in > 88.0f ? 88.0f : x_in);
  // n = round(x * log2(e)): adding 1.5 * 2^23 forces rounding to an integer.
  const float magic = 12582912.0f;
  const float n = (x * 1.44269504088896341f + magic) - magic;
  // r = x - n ln2, with ln2 split in two parts so n * ln2_hi is exact.
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n as a float
  return x_in < -87.0f ? 0.0f : er * std::bit_cast<float>(bits);
}

/// exp for the templates below: exp_f32 in float (the hot path), std::exp in
/// double (the reference, where accuracy matters more than speed).
CPURICH_INLINE float exp_t(float x) {
  return exp_f32(x);
}
CPURICH_INLINE double exp_t(double x) {
  return std::exp(x);
}

// ---- GELU, tanh form (GPT-2) ----------------------------------------------------------
//   gelu(x)  = 0.5 x (1 + tanh u),   u = sqrt(2/pi) (x + 0.044715 x^3)
// Since 1 + tanh u = 2 sigmoid(2u), this is x s with s = 1 / (1 + e^{-2u}):
// no tanh call, and no cancellation in 1 + tanh u for very negative u.
//   gelu'(x) = s + 2 x s (1 - s) du/dx,   du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)

/// gelu(x) for one element.
template <class T>
CPURICH_INLINE T gelu_tanh(T x) {
  const T k = static_cast<T>(0.7978845608028654), c = static_cast<T>(0.044715);  // sqrt(2/pi)
  const T u = k * (x + c * x * x * x);
  return x / (T(1) + exp_t(T(-2) * u));
}

/// gelu'(x) for one element.
template <class T>
CPURICH_INLINE T gelu_tanh_grad(T x) {
  const T k = static_cast<T>(0.7978845608028654), c = static_cast<T>(0.044715);
  const T u = k * (x + c * x * x * x);
  const T s = T(1) / (T(1) + exp_t(T(-2) * u));
  const T du = k * (T(1) + T(3) * c * x * x);
  return s + T(2) * x * s * (T(1) - s) * du;
}

/// y (n) = gelu(x (n)), vectorised (one clone per ISA).
void gelu_tanh_forward(const float* x, float* y, int64_t n);
/// dx (n) += dy (n) * gelu'(x (n)); with !accumulate dx = ... (a fresh buffer).
void gelu_tanh_backward(const float* x, const float* dy, float* dx, int64_t n, bool accumulate);

// ---- fixed-order lane reductions -------------------------------------------------------

/// Partial sums per reduction (the order is described at the top of this file).
inline constexpr int kLanes = 16;

/// acc[0] after the pairwise fold 8-4-2-1 (acc is overwritten).
template <class T>
CPURICH_INLINE T fold_sum(T (&acc)[kLanes]) {
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0];
}

/// sum_{j<n} term(j) in the fixed lane order: the one summation loop that
/// sum_lanes, dot_lanes and any fused sum (e.g. sum (x - m)^2) share.
template <class T, class Term>
CPURICH_INLINE T sum_lanes_of(int64_t n, Term term) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += term(j + l);
  for (int l = 0; j + l < n; ++l) acc[l] += term(j + l);  // tail: lane l gets j + l
  return fold_sum(acc);
}

/// sum_i a[i], a (n).
template <class T>
CPURICH_INLINE T sum_lanes(const T* a, int64_t n) {
  return sum_lanes_of<T>(n, [a](int64_t j) { return a[j]; });
}

/// sum_i a[i] * b[i], a (n), b (n).
template <class T>
CPURICH_INLINE T dot_lanes(const T* a, const T* b, int64_t n) {
  return sum_lanes_of<T>(n, [a, b](int64_t j) { return a[j] * b[j]; });
}

/// max_i a[i], a (n); -inf when n == 0. Max is exact, so the lanes only buy
/// speed; the same lanes and fold are used anyway.
template <class T>
CPURICH_INLINE T max_lanes(const T* a, int64_t n) {
  T acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = -INFINITY;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = a[j + l] > acc[l] ? a[j + l] : acc[l];
  for (int l = 0; j + l < n; ++l) acc[l] = a[j + l] > acc[l] ? a[j + l] : acc[l];
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] = acc[l + width] > acc[l] ? acc[l + width] : acc[l];
  return acc[0];
}

// ---- row softmax ----------------------------------------------------------------------
//   softmax(x)_j = e^{x_j - m} / sum_k e^{x_k - m},   m = max_k x_k
// Any m gives the same value; m = max makes every exponent <= 0, so nothing
// overflows and the largest term is exactly 1 (the sum is >= 1).
// Backward, with y = softmax(x) and dy given:
//   dx_j = y_j (dy_j - sum_k y_k dy_k)

/// The row's max m and sum s = sum_j e^{x_j - m}: log-sum-exp is m + log s.
template <class T>
struct SoftmaxStats {
  T max;
  T sum;
};

/// y (n) = softmax(x (n)); y may be x (in place). Needs n >= 1.
template <class T>
CPURICH_INLINE SoftmaxStats<T> softmax_row(const T* x, T* y, int64_t n) {
  const T m = max_lanes(x, n);
  for (int64_t j = 0; j < n; ++j) y[j] = exp_t(x[j] - m);
  const T s = sum_lanes(y, n);
  const T inv = T(1) / s;
  for (int64_t j = 0; j < n; ++j) y[j] *= inv;
  return {.max = m, .sum = s};
}

/// dx (n) = y (dy - y . dy) * scale, or dx += that when accumulate;
/// y (n) is the softmax output, dy (n) its gradient; dx may be dy (in place).
template <class T>
CPURICH_INLINE void softmax_row_backward(const T* y, const T* dy, T* dx, int64_t n, T scale,
                                         bool accumulate) {
  const T ydy = dot_lanes(y, dy, n);
  for (int64_t j = 0; j < n; ++j) {
    const T g = y[j] * (dy[j] - ydy) * scale;
    dx[j] = accumulate ? dx[j] + g : g;
  }
}

// ---- vector x matrix --------------------------------------------------------------------
// With one side of a product a single vector (decoding one token), each weight
// is used once: memory bandwidth, not arithmetic, sets the speed, so W is
// streamed once in the order it is stored.

/// y (n) = x (k) @ W (k, n), W row-major with row stride ldw. Axpy form:
/// y(:) += x(p) W(p, :) for p = 0..k-1, so each y(j) sums p in order from 0.
void vecmat(const float* x, const float* w, int64_t ldw, int64_t k, int64_t n, float* y);

/// y (n) = x (k) @ W (k, n) with W stored transposed, wt (n, k) row-major with
/// row stride ldw: y(j) = dot_lanes(x, wt row j), the fixed lane order.
void vecmat_t(const float* x, const float* wt, int64_t ldw, int64_t k, int64_t n, float* y);

}  // namespace cpurich::kernels
