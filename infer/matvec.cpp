// matvec.cpp: x @ W for decoding (see matvec.h for the idea): the naive
// reference first, then the register-tiled kernel the decoder runs.
//
// linear_panels changes two things against linear_naive, and nothing in what
// is summed in which order:
//   * W is read from the packed panels (matvec.h), one sequential block per
//     64 output columns;
//   * a tile keeps a block of outputs in local arrays the compiler maps onto
//     SIMD registers: 1 row x 64 columns for decode (four 16-float AVX-512
//     registers, independent add chains that hide the adder's latency), 4 rows
//     x 32 columns for prefill (each weight row loaded once, used for 4 rows).
// Every output still sums c = 0..C-1 in order, starting from 0, and the build
// sets -ffp-contract=off (tensor/kernels.h), so all tiles, all ISA clones and
// the naive loop give the same bits.
//
// Run-time dispatch: linear_panels is compiled per ISA (CPURICH_TARGET_CLONES);
// the tile helpers are CPURICH_INLINE so each clone gets its own vectorised copy.
#include "infer/matvec.h"

#include <cstdint>

#include "tensor/kernels.h"

namespace cpurich {

void linear_naive(const float* x, int64_t ldx, int64_t rows, int64_t C, const float* w, int64_t N,
                  const float* bias, float* y, int64_t ldy, Epilogue ep) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int64_t c = 0; c < C; ++c) acc += x[r * ldx + c] * w[c * N + n];
      if (bias) acc += bias[n];
      if (ep == Epilogue::Gelu) acc = kernels::gelu_tanh(acc);
      if (ep == Epilogue::Accumulate) acc += y[r * ldy + n];
      y[r * ldy + n] = acc;
    }
  }
}

namespace {

constexpr int64_t kPanel = PackedLinear::kPanel;  // 1 x 64 decode tile
constexpr int64_t kRows = 4;                      // 4 x 32 prefill tile
constexpr int64_t kHalf = kPanel / 2;

// Writes acc (+ bias) through the epilogue into one row segment of y.
CPURICH_INLINE void store_row(const float* acc, const float* bias, float* y, int64_t ncols,
                              Epilogue ep) {
  for (int64_t j = 0; j < ncols; ++j) {
    float v = bias ? acc[j] + bias[j] : acc[j];
    if (ep == Epilogue::Gelu) v = kernels::gelu_tanh(v);
    if (ep == Epilogue::Accumulate) v += y[j];
    y[j] = v;
  }
}

// Asks for the 4 cache lines (one 64-float weight row) `bytes` after p to be
// loaded into cache: a hint, not a load, so it cannot fault even past the end
// of the weights (the address is formed as an integer for the same reason).
// Why: a tiny model's weights (3 MB) do not fit in L2, and the hardware
// prefetcher alone leaves the decode tile waiting on L3 (docs/perf_notes.md).
constexpr int64_t kPrefetchRows = 16;
CPURICH_INLINE void prefetch_ahead(const float* p, int64_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = 0; line < kPanel * 4; line += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(a + line));
}

// acc (64,) = x (C,) @ panel (C,64): one row of x, a whole panel.
CPURICH_INLINE void tile_1x64(const float* x, int64_t C, const float* panel, float* acc) {
  float a[kPanel] = {};
  for (int64_t c = 0; c < C; ++c) {
    const float xc = x[c];
    const float* wr = panel + c * kPanel;
    prefetch_ahead(wr, kPrefetchRows * kPanel * 4);
    for (int64_t j = 0; j < kPanel; ++j) a[j] += xc * wr[j];
  }
  for (int64_t j = 0; j < kPanel; ++j) acc[j] = a[j];
}

// acc (4,32) = x (4,C) @ panel[:, 0:32] (row stride of x: ldx; the panel
// pointer may be offset by 32 to take the other half).
CPURICH_INLINE void tile_4x32(const float* x, int64_t ldx, int64_t C, const float* panel,
                              float* acc) {
  float a0[kHalf] = {}, a1[kHalf] = {}, a2[kHalf] = {}, a3[kHalf] = {};
  for (int64_t c = 0; c < C; ++c) {
    const float x0 = x[c], x1 = x[ldx + c], x2 = x[2 * ldx + c], x3 = x[3 * ldx + c];
    const float* wr = panel + c * kPanel;
    for (int64_t j = 0; j < kHalf; ++j) {
      a0[j] += x0 * wr[j];
      a1[j] += x1 * wr[j];
      a2[j] += x2 * wr[j];
      a3[j] += x3 * wr[j];
    }
  }
  for (int64_t j = 0; j < kHalf; ++j) {
    acc[j] = a0[j];
    acc[kHalf + j] = a1[j];
    acc[2 * kHalf + j] = a2[j];
    acc[3 * kHalf + j] = a3[j];
  }
}

}  // namespace

PackedLinear pack_linear(const float* w, const float* bias, int64_t C, int64_t N) {
  PackedLinear p;
  p.in = C;
  p.out = N;
  p.panels.assign(static_cast<size_t>(p.num_panels() * C * kPanel), 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t n = 0; n < N; ++n)
      p.panels[static_cast<size_t>(((n / kPanel) * C + c) * kPanel + n % kPanel)] = w[c * N + n];
  if (bias) p.bias.assign(bias, bias + N);
  return p;
}

CPURICH_TARGET_CLONES
void linear_panels(const PackedLinear& layer, const float* x, int64_t ldx, int64_t rows, float* y,
                   int64_t ldy, int64_t p0, int64_t p1, Epilogue ep) {
  const int64_t C = layer.in, N = layer.out;
  const float* bias = layer.bias.empty() ? nullptr : layer.bias.data();
  float acc[kRows * kHalf];
  for (int64_t p = p0; p < p1; ++p) {
    const float* panel = layer.panels.data() + p * C * kPanel;
    const int64_t n = p * kPanel;
    int64_t r = 0;
    for (; r + kRows <= rows; r += kRows) {  // prefill: 4 rows at a time
      for (int64_t h = 0; h < kPanel && n + h < N; h += kHalf) {
        const int64_t nc = N - n - h < kHalf ? N - n - h : kHalf;
        tile_4x32(x + r * ldx, ldx, C, panel + h, acc);
        for (int64_t i = 0; i < kRows; ++i)
          store_row(acc + i * kHalf, bias ? bias + n + h : nullptr, y + (r + i) * ldy + n + h, nc,
                    ep);
      }
    }
    for (; r < rows; ++r) {  // decode (rows == 1) and leftover rows
      tile_1x64(x + r * ldx, C, panel, acc);
      store_row(acc, bias ? bias + n : nullptr, y + r * ldy + n, N - n < kPanel ? N - n : kPanel,
                ep);
    }
  }
}

void quant_linear_cols(const QuantLinear& layer, const QuantActivations& xa, float* y, int64_t ldy,
                       float* tmp, int64_t n0, int64_t n1, Epilogue ep) {
  float* out = ep == Epilogue::Accumulate ? tmp : y;
  quant_matmul_rows(layer.w, xa, out, ldy, n0, n1);
  const float* bias = layer.bias.empty() ? nullptr : layer.bias.data();
  for (int64_t t = 0; t < xa.rows; ++t)
    store_row(out + t * ldy + n0, bias ? bias + n0 : nullptr, y + t * ldy + n0, n1 - n0, ep);
}

}  // namespace cpurich
