// matmul_peak.cpp: picks the widest FMA chains this CPU runs and times them
// with a thread team (see matmul_peak.h).
#include "tensor/matmul_peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "tensor/cpu_features.h"
#include "tensor/parallel.h"

namespace cpurich::detail {
namespace {

// Portable fallback: 16 scalar chains (the compiler may vectorize them).
double fma_chains_portable(int64_t iterations, float* sink) {
  constexpr int kChains = 16;
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = static_cast<float>(c);
  const float mul = sink[0], add = sink[1];
  for (int64_t it = 0; it < iterations; ++it)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * mul + add;
  float s = 0.0f;
  for (float v : acc) s += v;
  sink[2] = s;
  return 2.0 * kChains * static_cast<double>(iterations);
}

}  // namespace

double fma_chains(int64_t iterations, float* sink) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) return fma_chains_avx512(iterations, sink);
  if (cpu_has_avx2()) return fma_chains_avx2(iterations, sink);
#endif
  return fma_chains_portable(iterations, sink);
}

}  // namespace cpurich::detail

namespace cpurich {

using detail::fma_chains;

std::string fma_peak_isa() {
  if (cpu_has_avx512()) return "avx512";
  if (cpu_has_avx2()) return "avx2";
  return "portable";
}

double measure_fma_peak_gflops(int threads) {
  constexpr int64_t kIterations = 4'000'000;  // ~25 ms per thread at AVX-512 speed
  double best = 0.0;
  for (int trial = 0; trial < 3; ++trial) {  // best of 3: peak means "undisturbed"
    std::vector<double> member_flops(static_cast<size_t>(std::max(threads, 1)), 0.0);
    const auto start = std::chrono::steady_clock::now();
    run_team(threads, [&](int member) {
      float sink[3] = {1.0f, 1e-7f, 0.0f};
      double& flops = member_flops[static_cast<size_t>(member)];
      flops += fma_chains(kIterations, sink);
      if (sink[2] == 12345.0f) flops += 1.0;  // uses the result; never true in practice
    });
    double flops = 0.0;
    for (const double f : member_flops) flops += f;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, flops / seconds * 1e-9);
  }
  return best;
}

}  // namespace cpurich
