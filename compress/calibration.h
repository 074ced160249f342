// calibration.h: what each Linear of a GPT sees on calibration text.
//
// What it teaches: post-training compression needs no gradients, only the
// inputs X (N, in) each Linear receives on a few thousand representative
// tokens. Two summaries of X are enough for every method here:
//   xtx = X^T X (in, in)        GPTQ's / SparseGPT's Hessian H = 2 X^T X / N
//   sq  = diag(xtx) (in,)       imatrix importance mean(x_c^2) = sq_c / N,
//                               Wanda's column norm ||X_c|| = sqrt(sq_c)
// The statistics come from one pass of the uncompressed model (the
// sequential variant of the papers re-runs each block on the already
// compressed ones; one pass is simpler and close for small models).
//
// Pipeline position: trained GPT + text -> [calibration] -> gptq / imatrix / prune.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "nn/gpt.h"

namespace cpurich::compress {

/// The inputs of one Linear, summarised.
struct LinearStats {
  int64_t in = 0;
  int64_t samples = 0;      ///< N: rows of X seen
  std::vector<double> xtx;  ///< (in, in): sum over samples of x x^T
  std::vector<double> sq;   ///< (in,): sum over samples of x_c^2

  explicit LinearStats(int64_t in_features = 0);
  /// Adds the rows of x (n, in).
  void add(std::span<const float> x, int64_t n);
  /// H = 2 X^T X / N (in, in): the Hessian of the mean squared output error.
  std::vector<double> hessian() const;
  /// mean(x_c^2) (in,): the importance of input column c.
  std::vector<double> mean_square() const;
  /// ||X_c|| = sqrt(sum x_c^2) (in,).
  std::vector<double> column_norms() const;
};

/// Statistics of every Linear, keyed by its module name ("h.0.attn.c_attn",
/// "h.0.attn.c_proj", "h.0.mlp.c_fc", "h.0.mlp.c_proj", ...).
using Calibration = std::map<std::string, LinearStats>;

/// Runs the model (no grad, F32) on ids cut into windows of seq_len
/// (<= n_positions; the last window may be shorter) and records every
/// Linear's inputs. Throws std::invalid_argument on no ids, a bad seq_len
/// or an id >= vocab_size.
Calibration collect_calibration(const GPT& model, std::span<const int32_t> ids, int64_t seq_len);

/// The names of the Linears in the order the model uses them.
std::vector<std::string> linear_names(const GPTConfig& config);

/// Linear `name`'s weight as W (out, in) f64 row-major / written back from one.
std::vector<double> linear_weight_out_in(const GPT& model, const std::string& name);
void set_linear_weight_out_in(GPT& model, const std::string& name, std::span<const double> w);
/// Linear `name`'s weight tensor (in, out), HF Conv1D layout.
const Linear& find_linear(const GPT& model, const std::string& name);

}  // namespace cpurich::compress
