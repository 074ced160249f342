// progress.h: how fast is training, and how close to the machine's limit?
//
// What it teaches: tokens per second says how fast we go; MFU ("model FLOPs
// utilisation") says how well we use the hardware. A GPT with N parameters
// spends about 6N floating-point operations per training token (2N in the
// forward pass: one multiply and one add per weight; 4N in the backward pass:
// the gradients w.r.t. both the inputs and the weights), plus attention, which
// has no parameters: 12 * n_layer * n_embd * T per token (PaLM's estimate, as
// nanoGPT uses). MFU = (flops per token * tokens/s) / peak flops/s, where peak
// is measured here with a tight loop of independent fused multiply-adds.
//
// Pipeline position: training loop -> [progress line, log] -> you.
#pragma once

#include <cstdint>
#include <string>

#include "nn/config.h"

namespace cpurich {

/// fp32 FMA peak of `threads` cores in FLOP/s, from a ~50 ms microbenchmark
/// (each thread runs its own chains of independent FMAs; 1 FMA = 2 FLOPs).
double measure_peak_flops(int threads);

/// Training FLOPs per token: 6 * n_params + 12 * n_layer * n_embd * T.
double training_flops_per_token(const GPTConfig& config, int64_t n_params, int64_t T);

/// Fine-tuning FLOPs per token, from the weights alone: each weight costs 2
/// FLOPs forward and 2 backward (the gradient to its input), a trainable one 2
/// more (its own gradient): 4 * n_params + 2 * trainable, which is 6 * n_params
/// for full fine-tuning. The attention term of training_flops_per_token is left
/// out: Q/A rows are short, so it is a few percent.
double finetune_flops_per_token(int64_t n_params, int64_t trainable);

/// One-line progress display: smoothed speed, ETA and MFU.
class ProgressMeter {
 public:
  /// flops_per_token from training_flops_per_token; peak from measure_peak_flops
  /// (0 disables the MFU column).
  ProgressMeter(int64_t max_iters, double flops_per_token, double peak_flops);

  /// Records one step of `tokens` tokens that took `seconds` (evaluation excluded).
  void record(int64_t tokens, double seconds);
  double tokens_per_s() const { return tokens_per_s_; }  ///< smoothed
  double mfu() const;                                    ///< fraction of peak, 0 if unknown
  /// "iter 120/2000 | loss 2.3456 | lr 1.00e-03 | 18,200 tok/s | MFU 21.3% | ETA 1m43s"
  std::string line(int64_t iter, double loss, double lr) const;

 private:
  int64_t max_iters_;
  double flops_per_token_, peak_flops_;
  double tokens_per_s_ = 0.0;
  double seconds_per_step_ = 0.0;
  int64_t steps_ = 0;
};

/// "1h02m", "3m07s", "45s".
std::string format_duration(double seconds);

}  // namespace cpurich
