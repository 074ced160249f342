// lora.h: LoRA, low-rank adapters on a frozen GPT (Hu et al. 2021).
//
// What it teaches: fine-tuning changes a weight W (in, out) by some dW. LoRA
// bets that dW has low rank and writes it as a product of two thin matrices,
// trained while W stays frozen:
//
//   y = x W + b + s * (x A^T) B^T        A (r, in), B (out, r), r << in, out
//
// so a layer trains r * (in + out) numbers instead of in * out. A starts
// Kaiming-uniform U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's nn.Linear default,
// as PEFT), B starts at zero: the adapter's term is exactly 0 at step 0 and
// the model is the base model. The scale s = alpha / r keeps the size of the
// update roughly independent of r (rsLoRA: s = alpha / sqrt(r), which keeps
// learning stable at large r). Dropout applies to the adapter's input x only.
// The base gets no gradient buffer and no optimizer state: its leaves are
// re-created with requires_grad = false, so backward never computes dW.
// Merging folds the adapter in, W' = W + s * A^T B^T (the (in, out) layout
// of our Conv1D-style weights), after which inference costs nothing extra.
//
// Which layers: PEFT's rule for a list of target names: the module named
// "h.0.attn.c_proj" matches the target "c_proj", "attn.c_proj" or the full
// name (equal, or ending with "." + target). So "c_proj" selects both the
// attention and the MLP output projections, "mlp.c_proj" only the latter.
//
// Pipeline position: pretrained model -> [adapters] -> fine-tuning -> merge / adapter files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "nn/gpt.h"
#include "nn/module.h"
#include "tensor/rng.h"

namespace cpurich {

/// The knobs of a LoRA run (PEFT's LoraConfig fields of the same names).
struct LoraOptions {
  int64_t rank = 8;      ///< r >= 1
  double alpha = 16.0;   ///< lora_alpha > 0
  double dropout = 0.0;  ///< on the adapter input, [0, 1)
  bool rslora = false;   ///< s = alpha / sqrt(r)
  std::vector<std::string> targets = {"c_attn", "c_proj", "c_fc"};  ///< PEFT target_modules
  uint64_t seed = 0;  ///< A's init and the dropout masks

  /// Throws std::invalid_argument naming the bad field.
  void validate() const;
  /// alpha / r, or alpha / sqrt(r) with rslora.
  double scale() const;
};

/// One layer's adapter. Shared by the Linear it is attached to.
class LoraAdapter {
 public:
  /// A ~ U(-1/sqrt(in), 1/sqrt(in)) (r, in) drawn from init_rng, B = 0 (out, r).
  LoraAdapter(int64_t in, int64_t out, const LoraOptions& options, DType dtype, Rng& init_rng,
              uint64_t dropout_seed);
  /// x (..., in) -> s * (dropout(x) A^T) B^T (..., out): the adapter alone,
  /// as the formula reads (tests, teaching). Linear::forward runs the same
  /// formula fused into its own GEMM (ag::linear_lora).
  Var forward(const Var& x, bool training);
  /// The adapter's input: dropout(x) while training with dropout > 0, else x.
  Var input(const Var& x, bool training);
  /// s * A^T B^T (in, out): the adapter as a weight update, no graph.
  Tensor delta() const;

  Var A;  ///< lora_A (r, in)
  Var B;  ///< lora_B (out, r)
  double scale = 1.0;
  double dropout = 0.0;
  /// The dropout masks' generator (a checkpoint saves its counter).
  Rng& dropout_rng() { return dropout_rng_; }

 private:
  Rng dropout_rng_;
};

/// PEFT's match of a module name against target names (see the file comment).
bool lora_target_matches(const std::string& module, const std::vector<std::string>& targets);

/// Freezes every base parameter (fresh leaves without requires_grad, sharing
/// the same storage: the bytes never change) and attaches a new adapter to
/// each Linear matching options.targets. Returns the adapter parameters (see
/// lora_parameters). Throws std::invalid_argument on bad options, a target
/// that matches nothing, or a model that already has adapters.
NamedParameters add_lora(GPT& model, const LoraOptions& options);

/// The attached adapters' parameters, "h.0.attn.c_attn.lora_A.weight",
/// "h.0.attn.c_attn.lora_B.weight", ... in module order.
NamedParameters lora_parameters(GPT& model);

/// Names of the modules carrying an adapter, in order.
std::vector<std::string> lora_modules(GPT& model);

/// W += s * A^T B^T for every adapter, then detaches them: the model now
/// computes what it computed with the adapters, as a plain GPT.
void merge_lora(GPT& model);

}  // namespace cpurich
