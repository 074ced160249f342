// bench/gemm.cpp: the matmul staircase against OpenBLAS and the FMA peak.
//
// What it measures: for each kernel step, each shape and each thread count,
// the median GFLOP/s of several runs (a run repeats the GEMM until ~20 ms have
// passed, so small shapes are timed reliably). In the same process it measures
// OpenBLAS's cblas_sgemm and the CPU's fp32 FMA peak, and prints our best
// kernel as a ratio of both. Slow early steps stop at the size where one
// measurement would take longer than --budget seconds (printed as "skip").
//
//   bench/gemm                                  full table, 1 and 2 threads
//   bench/gemm --kernels packed_mt,openblas --sizes 1024 --gpt=false --runs 3
//   bench/gemm --json                           one JSON object per line
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/cpu_features.h"
#include "tensor/matmul.h"
#include "tensor/matmul_peak.h"
#include "tensor/openblas_info.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

struct Shape3 {
  int64_t m, k, n;
};

struct Options {
  std::vector<std::string> kernels;
  std::vector<int64_t> sizes = {128, 256, 512, 1024, 2048};
  bool gpt = true;
  std::vector<int> threads = {1, 2};
  int runs = 5;
  double budget = 4.0;
  bool json = false;
};

// Median GFLOP/s of `runs` runs of C = A @ B.
double time_kernel(MatmulKernel kernel, const Shape3& s, const std::vector<float>& a,
                   const std::vector<float>& b, std::vector<float>& c, int runs) {
  const GemmArgs g{false, false,    s.m, s.n,  s.k,      1.0f, a.data(),
                   s.k,   b.data(), s.n, 0.0f, c.data(), s.n};
  const double flops = 2.0 * s.m * s.n * s.k;
  // Warm-up for ~50 ms, not one call: the first kernel timed on freshly
  // allocated matrices otherwise pays for page faults, huge-page setup and
  // clock ramp-up (see docs/perf_notes.md).
  const auto warm_start = std::chrono::steady_clock::now();
  do {
    gemm(kernel, g);
  } while (std::chrono::steady_clock::now() - warm_start < std::chrono::milliseconds(50));
  std::vector<double> gflops;
  for (int r = 0; r < runs; ++r) {
    int reps = 0;
    const auto start = std::chrono::steady_clock::now();
    double seconds = 0.0;
    do {
      gemm(kernel, g);
      ++reps;
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (seconds < 0.02);
    gflops.push_back(flops * reps / seconds * 1e-9);
  }
  std::sort(gflops.begin(), gflops.end());
  return gflops[gflops.size() / 2];
}

void print_openblas_info() {
  const OpenBlasInfo info = openblas_info();
  if (!info.available) {
    std::cout << "OpenBLAS: not built in (no reference column)\n";
    return;
  }
  std::cout << "OpenBLAS: core " << info.core << " (" << info.core_isa
            << "), config: " << info.config << "\n";
  if (info.slower_core)
    std::cout << "WARNING: this CPU runs " << info.cpu_isa << " but OpenBLAS picked its '"
              << info.core << "' kernels (" << info.core_isa
              << "),\n         so the reference is slower than it could be. Run with "
                 "OPENBLAS_CORETYPE="
              << info.suggested_coretype << " for a fair reference.\n";
}

std::vector<MatmulKernel> selected_kernels(const Options& o) {
  if (o.kernels.empty()) return available_kernels();
  std::vector<MatmulKernel> ks;
  for (const std::string& name : o.kernels) ks.push_back(kernel_from_name(name));
  return ks;
}

std::string fmt(double v, const char* spec = "%8.1f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string pad_left(const std::string& s, size_t width) {
  return std::string(width > s.size() ? width - s.size() : 1, ' ') + s;
}

void run_threads(const Options& o, int threads, const std::vector<MatmulKernel>& kernels,
                 const std::vector<Shape3>& shapes) {
  set_num_threads(threads);
  const double peak = measure_fma_peak_gflops(threads);
  using json = nlohmann::ordered_json;  // keys in the documented order
  if (o.json) {
    std::cout << json{{"kernel", "peak"},   {"m", 0},        {"k", 0}, {"n", 0},
                      {"threads", threads}, {"gflops", peak}}
              << std::endl;
  } else {
    std::cout << "\n== " << threads << " thread(s): fp32 FMA peak " << fmt(peak, "%.1f")
              << " GFLOP/s (" << fma_peak_isa() << " FMA chains) ==\n";
    std::cout << "  m x k x n         ";
    for (MatmulKernel kk : kernels) std::cout << pad_left(kernel_name(kk), 10);
    std::cout << "  best/oblas  best%peak\n";
  }
  std::map<MatmulKernel, double> last;  // GFLOP/s at the previous shape, to skip slow steps
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const Shape3& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
    for (float& v : a) v = dist(rng);
    for (float& v : b) v = dist(rng);
    std::ostringstream row;
    row << "  " << s.m << "x" << s.k << "x" << s.n;
    row << std::string(std::max<int>(1, 20 - static_cast<int>(row.str().size())), ' ');
    double best = 0.0, best_mt = 0.0, oblas = 0.0;
    for (MatmulKernel kk : kernels) {
      const double flops = 2.0 * s.m * s.n * s.k;
      // Only the slow teaching steps are skipped; the fast kernels always run.
      const bool slow_step =
          kk == MatmulKernel::Naive || kk == MatmulKernel::Ikj || kk == MatmulKernel::Blocked;
      if (slow_step && last.count(kk) && flops / (last[kk] * 1e9) * (o.runs + 1) > o.budget) {
        row << pad_left("skip", 10);
        continue;
      }
      const double gf = time_kernel(kk, s, a, b, c, o.runs);
      last[kk] = gf;
      // "best" is packed_mt, what gemm() and the model use; without it, our fastest.
      if (kk == MatmulKernel::OpenBLAS)
        oblas = gf;
      else if (kk == MatmulKernel::PackedMT)
        best_mt = gf;
      else
        best = std::max(best, gf);
      row << fmt(gf, "%10.1f");
      if (o.json)
        std::cout << json{{"kernel", kernel_name(kk)}, {"m", s.m},    {"k", s.k}, {"n", s.n},
                          {"threads", threads},        {"gflops", gf}}
                  << std::endl;
    }
    if (best_mt > 0) best = best_mt;
    row << (oblas > 0 && best > 0 ? fmt(best / oblas, "%11.2fx") : std::string("          -"))
        << (best > 0 ? fmt(100.0 * best / peak, "%10.0f%%") : std::string("          -"));
    if (!o.json) std::cout << row.str() << std::endl;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"cpurich GEMM benchmark: the matmul staircase vs OpenBLAS and the FMA peak"};
  app.add_option("--kernels", o.kernels, "kernels to run (default: all available)")->delimiter(',');
  app.add_option("--sizes", o.sizes, "square sizes M=N=K")->delimiter(',');
  app.add_option("--gpt", o.gpt,
                 "also the tiny-GPT shapes (768,128,512) (768,512,128) (4096,384,1152)");
  app.add_option("--threads", o.threads, "thread counts")->delimiter(',');
  app.add_option("--runs", o.runs, "runs per measurement (median reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--budget", o.budget,
                 "skip a kernel at sizes whose measurement would take longer (s)");
  app.add_flag("--json", o.json, "one JSON object per line instead of the table");
  CLI11_PARSE(app, argc, argv);
  try {
    const std::vector<MatmulKernel> kernels = selected_kernels(o);
    for (int64_t size : o.sizes)
      if (size < 1 || size > 16384) throw std::invalid_argument("--sizes must be in [1, 16384]");
    for (int t : o.threads)
      if (t < 1) throw std::invalid_argument("--threads must be >= 1");
    std::vector<Shape3> shapes;
    for (int64_t s : o.sizes) shapes.push_back({s, s, s});
    if (o.gpt) shapes.insert(shapes.end(), {{768, 128, 512}, {768, 512, 128}, {4096, 384, 1152}});
    if (!o.json) {
      std::cout << "cpurich GEMM benchmark: C (m,n) = A (m,k) @ B (k,n), fp32, median of " << o.runs
                << " runs, GFLOP/s\n";
      std::cout << "microkernel: " << microkernel_isa() << "\n";
      print_openblas_info();
      std::cout << "best = packed_mt (the kernel gemm() uses) when measured; % peak is of the\n"
                   "FMA peak measured with the same thread count\n";
      std::cout << "steps slower than --budget " << o.budget
                << " s per measurement are skipped at larger sizes (\"skip\")\n";
    }
    for (int t : o.threads) run_threads(o, t, kernels, shapes);
  } catch (const std::exception& e) {
    std::cerr << "gemm: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
