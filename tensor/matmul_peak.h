// matmul_peak.h: measuring the CPU's fp32 FMA peak (for MFU, bench/gemm and lesson 02).
//
// What it teaches: "% of peak" needs a peak measured on this machine, not read
// from a spec sheet (clock boost, VM limits, and how many FMA units the core
// really has all matter). We run many independent chains of FMAs on registers
// only: no memory traffic, no dependency stalls, so the FMA units are the only
// limit. Chains: a pipe needs latency (4 cycles) in-flight FMAs, and there are
// two pipes, so >= 8 independent accumulators; we use 16 (12 with AVX2).
#pragma once

#include <cstdint>
#include <string>

namespace cpurich {

/// Measured fp32 FMA peak in GFLOP/s with `threads` threads (each runs its
/// own chains; best of 3 trials, since peak means "undisturbed").
double measure_fma_peak_gflops(int threads);
/// The ISA the peak is measured with: "avx512", "avx2" or "portable".
std::string fma_peak_isa();

}  // namespace cpurich

namespace cpurich::detail {

/// Runs `iterations` rounds of independent FMA chains (16 zmm / 12 ymm / 16 scalar) with the widest
/// vectors this CPU has; returns the flops done (2 per lane per FMA). The
/// return value of `sink` must be used so the compiler keeps the work.
double fma_chains(int64_t iterations, float* sink);
#if defined(__x86_64__)
double fma_chains_avx512(int64_t iterations, float* sink);
double fma_chains_avx2(int64_t iterations, float* sink);
#endif

}  // namespace cpurich::detail
