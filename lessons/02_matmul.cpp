// lessons/02_matmul.cpp: climb the matmul staircase and watch each step pay off.
//
// What it teaches: one product C = A @ B (512 x 512 x 512 by default, 268 million
// multiply-adds), computed by every kernel of tensor/matmul.h, slowest first:
//   naive      i-j-k, walks B down its columns: a cache miss per multiply
//   ikj        i-k-j, walks rows of B and C: unit stride, vectorizes
//   blocked    tiles that stay in L1/L2 while they are reused
//   packed     BLIS loops + packed panels + an AVX-512/AVX2 register microkernel
//   packed_mt  the same with every core, split over output tiles
//   openblas   the industrial reference
// For each we print GFLOP/s, the speedup over naive, the share of OpenBLAS
// and of this CPU's measured FMA peak, and max |C - C_naive| (the kernels add
// the same products in a different grouping, so tiny differences are expected:
// about K * eps * |a||b| at worst, see tests/matmul).
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
// Run: build/release/lessons/02_matmul [size]      (under a minute)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "tensor/matmul.h"
#include "tensor/matmul_peak.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

// Best-of-`runs` seconds for one call of `kernel` on g.
double seconds_for(MatmulKernel kernel, const GemmArgs& g, int runs) {
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    gemm(kernel, g);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int64_t n = argc > 1 ? std::stoll(argv[1]) : 512;
    if (n < 1 || n > 4096) throw std::invalid_argument("size must be in [1, 4096]");
    init_threads_from_env();
    Rng rng(2024);
    const Tensor a = rng.uniform({n, n}, -1, 1), b = rng.uniform({n, n}, -1, 1);
    const double flops = 2.0 * n * n * n;
    std::printf("C (%lld x %lld) = A @ B with K = %lld: %.0f million multiply-adds\n",
                static_cast<long long>(n), static_cast<long long>(n), static_cast<long long>(n),
                flops / 2e6);
    std::printf("microkernel ISA: %s, threads for packed_mt: %d\n", microkernel_isa().c_str(),
                num_threads());
    const double peak1 = detail::measure_fma_peak_gflops(1);
    const double peak_all = detail::measure_fma_peak_gflops(num_threads());
    std::printf("measured fp32 FMA peak: %.1f GFLOP/s on 1 core, %.1f on %d\n\n", peak1, peak_all,
                num_threads());

    // Naive first: it is the reference for both speed and values.
    Tensor c_naive = Tensor::zeros({n, n});
    GemmArgs g{.m = n,
               .n = n,
               .k = n,
               .a = a.data_f32(),
               .lda = n,
               .b = b.data_f32(),
               .ldb = n,
               .c = c_naive.data_f32(),
               .ldc = n};
    const double t_naive = seconds_for(MatmulKernel::Naive, g, 1);
    // OpenBLAS on 1 thread (the yardstick for the single-threaded steps) and
    // on all threads (for packed_mt).
    double t_openblas1 = 0.0, t_openblas = 0.0;
    const int threads = num_threads();
    if (openblas_available()) {
      Tensor c = Tensor::zeros({n, n});
      g.c = c.data_f32();
      set_num_threads(1);
      t_openblas1 = seconds_for(MatmulKernel::OpenBLAS, g, 3);
      set_num_threads(threads);
      t_openblas = seconds_for(MatmulKernel::OpenBLAS, g, 3);
    }
    std::printf("%-10s %9s %9s %10s %8s %12s\n", "kernel", "GFLOP/s", "speedup", "% OpenBLAS",
                "% peak", "max|diff|");
    for (MatmulKernel kernel : available_kernels()) {
      Tensor c = Tensor::zeros({n, n});
      g.c = c.data_f32();
      const double t = kernel == MatmulKernel::Naive      ? t_naive
                       : kernel == MatmulKernel::OpenBLAS ? t_openblas
                                                          : seconds_for(kernel, g, 3);
      gemm(kernel, g);  // the values we compare (naive's own C for naive)
      double max_diff = 0.0;
      const std::span<const float> got = c.span_f32(), ref = c_naive.span_f32();
      for (size_t i = 0; i < got.size(); ++i)
        max_diff = std::max(max_diff, std::fabs(double(got[i]) - ref[i]));
      const bool mt = kernel == MatmulKernel::PackedMT || kernel == MatmulKernel::OpenBLAS;
      const double peak = mt ? peak_all : peak1, t_ref = mt ? t_openblas : t_openblas1;
      const std::string vs_openblas =
          t_ref > 0 ? std::to_string(static_cast<int>(100 * t_ref / t + 0.5)) + "%" : "-";
      std::printf("%-10s %9.1f %8.1fx %9s %7.0f%% %12.2e\n", kernel_name(kernel).c_str(),
                  flops / t * 1e-9, t_naive / t, vs_openblas.c_str(),
                  100.0 * flops / t * 1e-9 / peak, max_diff);
    }
    std::printf(
        "\nSingle-threaded steps are compared with 1-thread OpenBLAS and the 1-core peak;\n"
        "packed_mt and openblas use %d threads and the %d-core peak (CPURICH_THREADS=n).\n",
        threads, threads);
  } catch (const std::exception& e) {
    std::cerr << "02_matmul: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
