// matmul_microkernel_portable.cpp: the plain C++ microkernel and the run-time
// choice between it and the SIMD ones.
//
// What it teaches: the same MR x NR register tile as the intrinsics versions,
// written as ordinary loops over a small local array. The compiler keeps the
// array in vector registers and vectorizes the j loop with whatever the
// baseline ISA offers (SSE2 on x86-64, NEON on ARM), so this file is what runs
// on a machine without AVX2. The tile is 4 x 16: 64 accumulators, i.e. 16 SSE
// or NEON registers.
#include <stdexcept>

#include "tensor/cpu_features.h"
#include "tensor/matmul.h"
#include "tensor/matmul_microkernel.h"

namespace cpurich {
namespace detail {
namespace {
constexpr int64_t kMR = 4;
constexpr int64_t kNR = 16;
}  // namespace

void microkernel_portable_4x16(int64_t kc, const float* a_pack, const float* b_pack,
                               int64_t b_stride, const CTile& tile, float alpha, float beta) {
  float acc[kMR][kNR] = {};  // the C tile, accumulated over p = 0..kc-1
  for (int64_t p = 0; p < kc; ++p) {
    const float* a = a_pack + p * kMR;       // a is (MR): column p of the A sliver
    const float* b = b_pack + p * b_stride;  // b is (NR): row p of the B sliver
    for (int64_t i = 0; i < kMR; ++i)
      for (int64_t j = 0; j < kNR; ++j) acc[i][j] += a[i] * b[j];
  }
  for (int64_t i = 0; i < tile.rows; ++i)
    for (int64_t j = 0; j < tile.cols; ++j) {
      float& out = tile.c[i * tile.ldc + j];
      out = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * out;
    }
}

Microkernel microkernel_for_isa(const std::string& isa) {
  if (isa == "portable")
    return Microkernel{.isa = "portable", .mr = kMR, .nr = kNR, .fn = microkernel_portable_4x16};
#if defined(__x86_64__)
  if (isa == "avx2" && cpu_has_avx2())
    return Microkernel{.isa = "avx2", .mr = 6, .nr = 16, .fn = microkernel_avx2_6x16};
  if (isa == "avx512" && cpu_has_avx512())
    return Microkernel{.isa = "avx512",
                       .mr = 14,
                       .nr = 32,
                       .fn = microkernel_avx512_14x32,
                       .pack_a_rows = pack_a_rows_avx512_14,
                       .pack_b_cols = pack_b_cols_avx512_32};
#endif
  throw std::invalid_argument("microkernel '" + isa +
                              "' is unknown or not supported by this CPU (portable always is)");
}

const Microkernel& best_microkernel() {
  static const Microkernel best = [] {
    if (cpu_has_avx512()) return microkernel_for_isa("avx512");
    if (cpu_has_avx2()) return microkernel_for_isa("avx2");
    return microkernel_for_isa("portable");
  }();
  return best;
}

}  // namespace detail

std::string microkernel_isa() {
  return detail::best_microkernel().isa;
}

}  // namespace cpurich
