// ops_loss.cpp: embedding lookup, cross-entropy loss and dropout.
//
// What it teaches:
//  - embedding is a row gather, out[i] = W[ids[i]]; its backward is the
//    reverse, a scatter-add dW[ids[i]] += dout[i]. A token appearing twice
//    adds twice, so the adds must not race: we split the work over columns
//    (every thread owns a slice of C and walks all rows in order).
//  - cross-entropy from logits fuses log-softmax and the negative
//    log-likelihood: loss_i = logsumexp(x_i) - x_i[target_i], and the
//    gradient of the mean loss is simply (softmax(x_i) - onehot(target_i)) / n.
//  - dropout keeps element i when a counter-based draw hash(seed, c + i) is
//    above p: the mask depends only on (seed, counter, i), never on threads.
//
// Pipeline position: token ids -> [embedding] -> ... -> logits -> [cross_entropy].
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops_internal.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// ---- embedding ------------------------------------------------------------------------
// out (N,C) = W (V,C) [ids (N)]
template <class T>
void gather_rows(const T* w, const int32_t* ids, T* out, int64_t N, int64_t C) {
  parallel_for_if(N * C > kParallelMin, 0, N, [&](int64_t i) {
    for (int64_t j = 0; j < C; ++j) out[i * C + j] = w[ids[i] * C + j];
  });
}

// dW (V,C) [ids[i]] += dout (N,C) [i], rows in order, threads own column chunks.
template <class T>
void scatter_add_rows(const T* dout, const int32_t* ids, T* dw, int64_t N, int64_t C) {
  constexpr int64_t kChunk = 64;
  const int64_t chunks = (C + kChunk - 1) / kChunk;
  parallel_for_if(N * C > kParallelMin && chunks > 1, 0, chunks, [&](int64_t c) {
    const int64_t j0 = c * kChunk, j1 = std::min(C, j0 + kChunk);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = j0; j < j1; ++j) dw[ids[i] * C + j] += dout[i * C + j];
  });
}

template <class T>
Var embedding_typed(const Var& weight, std::vector<int32_t> ids) {
  const Tensor W = weight.value().contiguous();  // (V, C)
  const int64_t N = static_cast<int64_t>(ids.size()), C = W.size(1);
  Tensor out = Tensor::uninitialized({N, C}, W.dtype());
  gather_rows<T>(ptr<T>(W), ids.data(), ptr<T>(out), N, C);
  return make_op_result(out, {weight}, "embedding", [ids = std::move(ids), N, C](Node& self) {
    if (Tensor* dw = grad_accumulator(self.parents[0]))
      scatter_add_rows<T>(ptr<T>(self.grad), ids.data(), ptr<T>(*dw), N, C);
  });
}

// ---- cross_entropy ----------------------------------------------------------------------
// For each kept row i: p_i = softmax(x_i) is stored in probs, and the row's
// loss logsumexp(x_i) - x_i[t_i] in row_loss. Ignored rows get p = 0, loss 0.
template <class T>
void ce_forward_rows(const T* x, const int32_t* targets, int32_t ignore, T* probs, double* row_loss,
                     int64_t N, int64_t V) {
  parallel_for_if(N * V > kParallelMin, 0, N, [&](int64_t i) {
    row_loss[i] = 0;
    if (targets[i] == ignore) return;
    const T* xi = x + i * V;
    T* pi = probs + i * V;
    const kernels::SoftmaxStats<T> st = kernels::softmax_row(xi, pi, V);
    row_loss[i] = static_cast<double>(st.max + std::log(st.sum) - xi[targets[i]]);
  });
}

// dx (N,V) += (p - onehot(t)) * dloss / n for kept rows.
template <class T>
void ce_backward_rows(const T* probs, const int32_t* targets, int32_t ignore, T scale, T* dx,
                      int64_t N, int64_t V) {
  parallel_for_if(N * V > kParallelMin, 0, N, [&](int64_t i) {
    if (targets[i] == ignore) return;
    const T* pi = probs + i * V;
    T* dxi = dx + i * V;
    for (int64_t j = 0; j < V; ++j) dxi[j] += pi[j] * scale;
    dxi[targets[i]] -= scale;
  });
}

template <class T>
Var cross_entropy_typed(const Var& logits, std::vector<int32_t> targets, int32_t ignore,
                        int64_t n_kept) {
  const Tensor X = logits.value().contiguous();  // (N, V)
  const int64_t V = X.size(-1), N = X.numel() / V;
  Tensor probs = Tensor::empty({N, V}, X.dtype());  // ignored rows stay 0
  std::vector<double> row_loss(static_cast<size_t>(N));
  ce_forward_rows<T>(ptr<T>(X), targets.data(), ignore, ptr<T>(probs), row_loss.data(), N, V);
  double total = 0;  // summed in row order by one thread: reproducible
  for (double l : row_loss) total += l;
  Tensor loss = Tensor::scalar(total / static_cast<double>(n_kept), X.dtype());
  return make_op_result(
      loss, {logits}, "cross_entropy",
      [probs, targets = std::move(targets), ignore, n_kept, N, V](Node& self) {
        Tensor* dx = grad_accumulator(self.parents[0]);
        if (!dx) return;
        const T scale = static_cast<T>(self.grad.item() / static_cast<double>(n_kept));
        ce_backward_rows<T>(ptr<T>(probs), targets.data(), ignore, scale, ptr<T>(*dx), N, V);
      });
}

// ---- dropout ------------------------------------------------------------------------------
// y = x * m / (1 - p), m_i = [u_i >= p];  dx = dy * m / (1 - p). The draws
// use counters c .. c + n - 1, u_i = (top 53 bits of hash64) * 2^-53. In
// integers: u_i >= p  <=>  bits >= p * 2^53  <=>  bits >= ceil(p * 2^53)
// (p * 2^53 is exact, bits is an integer), so no conversion to double. The
// mask is saved as one byte per element (a quarter of a float mask's memory).
template <class T>
Var dropout_typed(const Var& x, double p, Rng& rng) {
  const Tensor X = x.value().contiguous();
  const int64_t n = X.numel();
  auto mask = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n));
  Tensor Y = Tensor::uninitialized(X.shape(), X.dtype());
  const uint64_t seed = rng.seed(), c0 = rng.counter();
  const auto threshold = static_cast<uint64_t>(std::ceil(p * 0x1.0p53));
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
  const T* xs = ptr<T>(X);
  T* ys = ptr<T>(Y);
  uint8_t* ms = mask->data();
  parallel_for_if(n > kParallelMin, 0, n, [&](int64_t i) {
    const uint64_t bits = hash64(seed, c0 + static_cast<uint64_t>(i)) >> 11;
    ms[i] = bits >= threshold;
    ys[i] = xs[i] * (ms[i] ? keep_scale : T(0));
  });
  rng.set_counter(c0 + static_cast<uint64_t>(n));
  return make_op_result(Y, {x}, "dropout", [mask, n, keep_scale](Node& self) {
    const GradOut dx = grad_output(self.parents[0]);
    if (!dx.grad) return;
    const T* dy = ptr<T>(self.grad);
    const uint8_t* m = mask->data();
    T* d = ptr<T>(*dx.grad);
    const bool acc = !dx.fresh;  // a fresh buffer is written, not added to
    parallel_for_if(n > kParallelMin, 0, n, [&](int64_t i) {
      const T g = dy[i] * (m[i] ? keep_scale : T(0));
      d[i] = acc ? d[i] + g : g;
    });
  });
}

}  // namespace

Var embedding(const Var& weight, std::span<const int32_t> ids) {
  check_defined(weight, "embedding");
  check_float(weight.value(), "embedding");
  if (weight.value().dim() != 2)
    throw ShapeError("embedding: weight must be (V, C), got " + shape_str(weight.shape()));
  const int64_t V = weight.value().size(0);
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw std::out_of_range("embedding: id " + std::to_string(ids[i]) + " at position " +
                              std::to_string(i) + " is outside [0, " + std::to_string(V) + ")");
  ProfileScope prof(OpClass::Other, false);
  std::vector<int32_t> copy(ids.begin(), ids.end());
  if (weight.value().dtype() == DType::F32) return embedding_typed<float>(weight, std::move(copy));
  return embedding_typed<double>(weight, std::move(copy));
}

Var cross_entropy(const Var& logits, std::span<const int32_t> targets, int32_t ignore_index) {
  check_defined(logits, "cross_entropy");
  check_float(logits.value(), "cross_entropy");
  const Tensor& x = logits.value();
  const int64_t V = x.dim() >= 1 ? x.size(-1) : 0;
  if (x.dim() < 2 || V == 0 || x.numel() / V != static_cast<int64_t>(targets.size()))
    throw ShapeError("cross_entropy: logits " + shape_str(x.shape()) + " do not match " +
                     std::to_string(targets.size()) + " targets");
  int64_t n_kept = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] == ignore_index) continue;
    if (targets[i] < 0 || targets[i] >= V)
      throw std::out_of_range("cross_entropy: target " + std::to_string(targets[i]) +
                              " at position " + std::to_string(i) + " is outside [0, " +
                              std::to_string(V) + ")");
    ++n_kept;
  }
  if (n_kept == 0)
    throw std::invalid_argument("cross_entropy: every target equals ignore_index " +
                                std::to_string(ignore_index) + ": the mean loss is undefined");
  ProfileScope prof(OpClass::Other, false);
  std::vector<int32_t> t(targets.begin(), targets.end());
  if (x.dtype() == DType::F32)
    return cross_entropy_typed<float>(logits, std::move(t), ignore_index, n_kept);
  return cross_entropy_typed<double>(logits, std::move(t), ignore_index, n_kept);
}

Var dropout(const Var& x, double p, Rng& rng, bool training) {
  check_defined(x, "dropout");
  check_float(x.value(), "dropout");
  if (!(p >= 0.0 && p < 1.0))
    throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  ProfileScope prof(OpClass::Other, false);
  if (x.value().dtype() == DType::F32) return dropout_typed<float>(x, p, rng);
  return dropout_typed<double>(x, p, rng);
}

}  // namespace cpurich::ag
