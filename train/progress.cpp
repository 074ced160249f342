// progress.cpp: the FMA peak microbenchmark and the progress line.
#include "train/progress.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

namespace cpurich {

namespace {

constexpr int kChains = 256;  // 16 AVX-512 registers of independent FMA chains

// acc = acc * a + b, kChains independent chains, `iters` times. Independent
// chains hide the FMA latency (4 cycles) so both FMA pipes stay busy; the
// compiler keeps acc in registers. Returns a sum so the work is not removed.
#if defined(__x86_64__)  // run-time dispatch: AVX-512, AVX2+FMA, or plain x86-64
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
float fma_chains(int64_t iters, float a, float b) {
  float acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = static_cast<float>(j) * 1e-3f;
  for (int64_t it = 0; it < iters; ++it)
    for (int j = 0; j < kChains; ++j) acc[j] = std::fma(acc[j], a, b);
  float s = 0.0f;
  for (int j = 0; j < kChains; ++j) s += acc[j];
  return s;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double measure_peak_flops(int threads) {
  if (threads < 1) threads = 1;
  const int64_t iters = 100000;  // 2*256*1e5 = 51 MFLOP per thread per round
  std::vector<float> sink(static_cast<std::size_t>(threads));
  double best = 0.0;
  for (int round = 0; round < 3; ++round) {  // best of 3: the first warms the clocks
    const double t0 = now_s();
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t)
      sink[static_cast<std::size_t>(t)] = fma_chains(iters, 0.9999f, 1e-4f);
    const double dt = now_s() - t0;
    const double flops = 2.0 * kChains * static_cast<double>(iters) * threads / dt;
    if (flops > best) best = flops;
  }
  if (!(sink[0] > -1e30f)) std::fprintf(stderr, " ");  // keep the result observable
  return best;
}

double training_flops_per_token(const GPTConfig& c, int64_t n_params, int64_t T) {
  return 6.0 * static_cast<double>(n_params) +
         12.0 * static_cast<double>(c.n_layer * c.n_embd) * static_cast<double>(T);
}

ProgressMeter::ProgressMeter(int64_t max_iters, double flops_per_token, double peak_flops)
    : max_iters_(max_iters), flops_per_token_(flops_per_token), peak_flops_(peak_flops) {}

void ProgressMeter::record(int64_t tokens, double seconds) {
  if (seconds <= 0.0) return;
  const double tps = static_cast<double>(tokens) / seconds;
  // Exponential moving average (weight 0.1 on the newest step) after a plain
  // mean of the first few steps: a steady number that still follows changes.
  ++steps_;
  const double w = steps_ <= 10 ? 1.0 / static_cast<double>(steps_) : 0.1;
  tokens_per_s_ += w * (tps - tokens_per_s_);
  seconds_per_step_ += w * (seconds - seconds_per_step_);
}

double ProgressMeter::mfu() const {
  if (peak_flops_ <= 0.0) return 0.0;
  return flops_per_token_ * tokens_per_s_ / peak_flops_;
}

std::string ProgressMeter::line(int64_t iter, double loss, double lr) const {
  const double eta = seconds_per_step_ * static_cast<double>(max_iters_ - iter);
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "iter %lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | MFU %.1f%% | ETA %s",
                static_cast<long long>(iter), static_cast<long long>(max_iters_), loss, lr,
                tokens_per_s_, 100.0 * mfu(), format_duration(eta).c_str());
  return buf;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0)) seconds = 0.0;
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[40];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

}  // namespace cpurich
