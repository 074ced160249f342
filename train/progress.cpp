// progress.cpp: the FMA peak (for MFU) and the progress line.
#include "train/progress.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tensor/matmul_peak.h"

namespace cpurich {

// The peak comes from the same FMA-chain microbenchmark bench/gemm uses
// (tensor/matmul_peak.h), so MFU and "% of peak" share one definition.
double measure_peak_flops(int threads) {
  return measure_fma_peak_gflops(threads < 1 ? 1 : threads) * 1e9;
}

double training_flops_per_token(const GPTConfig& c, int64_t n_params, int64_t T) {
  return 6.0 * static_cast<double>(n_params) +
         12.0 * static_cast<double>(c.n_layer * c.n_embd) * static_cast<double>(T);
}

double finetune_flops_per_token(int64_t n_params, int64_t trainable) {
  return 4.0 * static_cast<double>(n_params) + 2.0 * static_cast<double>(trainable);
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
