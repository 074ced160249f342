// gpt.h: the GPT-2 architecture as a tree of modules.
//
//   ids (B,T) -> wte[ids] + wpe[0..T) -> n_layer x Block -> ln_f -> @ wte^T -> logits (B,T,V)
//   Block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))      (pre-LayerNorm)
//
// Parameters are named exactly as Hugging Face GPT-2 names them (wte.weight,
// h.0.attn.c_attn.weight, ...; Linear weights stored (in, out) like HF's
// Conv1D), so state_dict() is what model.safetensors holds.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"
#include "nn/config.h"
#include "tensor/rng.h"

namespace cpurich {

class GPT {
 public:
  /// GPT-2 initialisation from seed: weights N(0, 0.02), residual projections
  /// (attn.c_proj, mlp.c_proj) N(0, 0.02/sqrt(2*n_layer)), biases 0, LN w=1 b=0.
  GPT(const GPTConfig& config, uint64_t seed);

  const GPTConfig& config() const { return config_; }

  /// ids (B*T, row-major) -> logits (B, T, vocab). T <= n_positions.
  Var forward(std::span<const int32_t> ids, int64_t B, int64_t T, bool training = false);
  /// Mean next-token cross-entropy: forward + ag::cross_entropy(targets, ignore_index).
  Var loss(std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t B, int64_t T,
           bool training = false, int32_t ignore_index = -1);

  /// Every trainable tensor with its HF name, in a fixed order.
  std::vector<std::pair<std::string, Var>> named_parameters() const;
  /// name -> value tensor (shares storage with the parameters).
  std::map<std::string, Tensor> state_dict() const;
  /// Copies values in; throws naming any missing, unexpected or mis-shaped tensor.
  void load_state_dict(const std::map<std::string, Tensor>& tensors);

  int64_t num_parameters() const;            ///< total (wte counted once: tied head)
  int64_t num_parameters_non_embedding() const;  ///< minus wte and wpe (nanoGPT's count)

  Rng& dropout_rng() { return dropout_rng_; }

 private:
  GPTConfig config_;
  std::vector<std::pair<std::string, Var>> params_;  ///< owned, in HF order
  Rng dropout_rng_;
  const Var& param(const std::string& name) const;
};

/// Writes DIR/config.json and DIR/model.safetensors (atomically), creating DIR.
void save_model(const GPT& model, const std::string& dir);
/// Reads a model directory (ours or Hugging Face GPT-2's); throws with a
/// message naming the file and the field or tensor that is wrong.
GPT load_model(const std::string& dir);

}  // namespace cpurich
