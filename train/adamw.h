// adamw.h: the AdamW optimizer and global-norm gradient clipping.
//
// What it teaches: Adam keeps, for every parameter element, running averages
// of the gradient g (first moment m) and of g^2 (second moment v):
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
// Both start at 0, so early on they are biased towards 0; dividing by
// (1 - beta^t) undoes that ("bias correction", t = step count from 1):
//   p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// Each element thus moves by about lr, whatever the gradient's scale.
// AdamW adds *decoupled* weight decay: p -= lr * wd * p, applied directly to
// the weights rather than added to the gradient (where Adam's rescaling would
// cancel it). As in nanoGPT, only tensors with dim >= 2 decay (matmul weights
// and the embeddings); biases and LayerNorm gains do not.
//
// Pipeline position: model -> loss -> backward -> [optimizer step] -> model.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"

namespace cpurich {

/// Constants of AdamW (the learning rate is passed to each step: it follows a schedule).
struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.1;  ///< applied to parameters with dim >= 2 only
};

/// Thrown when a loss or gradient is NaN or infinite; the message names the tensor.
class NonFiniteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// AdamW over a fixed list of named parameters (e.g. GPT::named_parameters()).
class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, Var>> params, AdamWOptions options);

  /// One update of every parameter from its current grad (a missing grad counts
  /// as zero). Increments the step count t before the update (t = 1 first).
  void step(double lr);
  /// Drops every parameter's gradient.
  void zero_grad();

  int64_t step_count() const { return t_; }
  /// The parameters being optimised (shared with the model).
  const std::vector<std::pair<std::string, Var>>& params() const { return params_; }
  const AdamWOptions& options() const { return options_; }
  /// True when the parameter named `name` is decayed (dim >= 2).
  bool decays(const std::string& name) const;

  /// "m.<name>" and "v.<name>" for every parameter (share storage with the state).
  std::map<std::string, Tensor> state_tensors() const;
  /// Copies m and v back in; throws naming a missing or mis-shaped tensor.
  void load_state_tensors(const std::map<std::string, Tensor>& tensors, int64_t step_count);

 private:
  std::vector<std::pair<std::string, Var>> params_;
  std::vector<Tensor> m_, v_;  ///< same shapes as the parameters, zero at start
  AdamWOptions options_;
  int64_t t_ = 0;
};

/// sqrt(sum of g^2 over every gradient element). Each parameter's sum of
/// squares is computed by one thread in a fixed order (in double: 8 partial
/// sums over interleaved elements, combined in order), then the
/// per-parameter sums are added in parameter order: the same bits for any
/// thread count. Throws NonFiniteError naming the first parameter whose
/// gradient holds a NaN or infinity.
double global_grad_norm(const std::vector<std::pair<std::string, Var>>& params);

/// Scales every gradient by max_norm / norm when norm > max_norm (the
/// direction is kept, the length capped). Returns the norm before clipping.
double clip_grad_norm(const std::vector<std::pair<std::string, Var>>& params, double max_norm);

}  // namespace cpurich
