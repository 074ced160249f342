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
// at most K * eps * sum_p |a_ip||b_pj| <= K^2 * eps here, since |a|, |b| <= 1,
// eps = 2^-24; the lesson checks it, see tests/matmul).
// Two honesty checks on the percentages. A peak is only a peak on a quiet
// machine: if the 2-thread peak comes out below the 1-thread one, or a kernel
// beats 100% of it, other programs were using the cores while we measured,
// and the lesson says so instead of printing an impossible number. And
// OpenBLAS is only a yardstick if it runs the kernels this CPU supports:
// tensor/openblas_info.h reads which core it picked, and the lesson says
// plainly when that core is slower (then set OPENBLAS_CORETYPE, e.g.
// OPENBLAS_CORETYPE=SkylakeX on an AVX-512 CPU with Debian's OpenBLAS 0.3.21).
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
#include "tensor/openblas_info.h"
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

// One line of the table.
struct Row {
  std::string name;
  double gflops = 0.0;
  double speedup = 0.0;      // over naive
  double vs_openblas = 0.0;  // % of OpenBLAS's speed; < 0: no OpenBLAS
  double pct_peak = 0.0;     // % of the FMA peak for the same thread count
  double max_diff = 0.0;     // max |C - C_naive|
};

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
    const double peak1 = measure_fma_peak_gflops(1);
    const double peak_all = measure_fma_peak_gflops(num_threads());
    std::printf("measured fp32 FMA peak (%s): %.1f GFLOP/s on 1 core, %.1f on %d\n",
                fma_peak_isa().c_str(), peak1, peak_all, num_threads());
    const OpenBlasInfo blas = openblas_info();
    if (blas.available) {
      std::printf("OpenBLAS runs its '%s' kernels (%s); this CPU runs %s.\n", blas.core.c_str(),
                  blas.core_isa.c_str(), blas.cpu_isa.c_str());
      if (blas.slower_core)
        std::printf(
            "OpenBLAS picked a slower core than this CPU supports, so the %% OpenBLAS column\n"
            "compares with its %s kernels, not its best. For a fair yardstick run:\n"
            "  OPENBLAS_CORETYPE=%s build/release/lessons/02_matmul\n",
            blas.core_isa.c_str(), blas.suggested_coretype.c_str());
    }
    std::printf("\n");

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
    std::vector<Row> rows;
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
      rows.push_back(Row{.name = kernel_name(kernel),
                         .gflops = flops / t * 1e-9,
                         .speedup = t_naive / t,
                         .vs_openblas = t_ref > 0 ? 100 * t_ref / t : -1.0,
                         .pct_peak = 100.0 * flops / t * 1e-9 / peak,
                         .max_diff = max_diff});
    }
    // A kernel cannot beat the FMA units, and two cores cannot have less
    // peak than one: either means the peak was measured while others ran.
    const bool peak_fell = threads > 1 && peak_all < peak1;
    bool beat_peak = false;
    for (const Row& r : rows) beat_peak = beat_peak || r.pct_peak > 100.0;
    const bool busy = peak_fell || beat_peak;
    std::printf("%-10s %9s %9s %10s %8s %12s\n", "kernel", "GFLOP/s", "speedup", "% OpenBLAS",
                "% peak", "max|diff|");
    for (const Row& r : rows) {
      const std::string vs_openblas =
          r.vs_openblas < 0 ? "-" : std::to_string(static_cast<int>(r.vs_openblas + 0.5)) + "%";
      const std::string pct_peak =
          busy ? "busy" : std::to_string(static_cast<int>(r.pct_peak + 0.5)) + "%";
      std::printf("%-10s %9.1f %8.1fx %10s %8s %12.2e\n", r.name.c_str(), r.gflops, r.speedup,
                  vs_openblas.c_str(), pct_peak.c_str(), r.max_diff);
    }
    std::printf(
        "\nSingle-threaded steps are compared with 1-thread OpenBLAS and the 1-core peak;\n"
        "packed_mt and openblas use %d threads and the %d-core peak (CPURICH_THREADS=n).\n",
        threads, threads);
    if (busy) {
      std::printf("The machine is busy: other programs used the cores while we measured.\n");
      if (peak_fell)
        std::printf("  The %d-core peak, %.1f GFLOP/s, came out below the 1-core %.1f.\n", threads,
                    peak_all, peak1);
      if (beat_peak) std::printf("  A kernel ran faster than the measured peak.\n");
      std::printf(
          "So %% of peak (and the timings) mean little this time. Re-run on a quiet machine.\n");
    }
    // The values: every kernel adds the same products, only grouped
    // differently, so it stays within K^2 * eps of naive (|a|, |b| <= 1).
    const double bound = static_cast<double>(n) * static_cast<double>(n) * std::ldexp(1.0, -24);
    bool close = true;
    for (const Row& r : rows) close = close && r.max_diff <= bound;
    std::printf("every kernel within K^2 * eps = %.2e of naive: %s\n", bound, close ? "yes" : "NO");
    if (!close) return 1;
  } catch (const std::exception& e) {
    std::cerr << "02_matmul: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
