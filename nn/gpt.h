// gpt.h: the GPT-2 architecture as a tree of modules.
//
//   ids (B,T) -> wte[ids] + wpe[0..T) -> n_layer x Block -> ln_f -> @ wte^T -> logits (B,T,V)
//   Block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))      (pre-LayerNorm)
//
// Parameters are named exactly as Hugging Face GPT-2 names them (wte.weight,
// h.0.attn.c_attn.weight, ...; Linear weights stored (in, out) like HF's
// Conv1D), so state_dict() is what model.safetensors holds. The output head
// is tied to the token embedding: the same matrix wte turns token ids into
// vectors at the bottom and vectors back into token scores at the top.
//
// Pipeline position: tokens -> tensors -> [model] -> samples.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"
#include "nn/blocks.h"
#include "nn/config.h"
#include "nn/layers.h"
#include "nn/load_options.h"
#include "nn/module.h"
#include "tensor/rng.h"

namespace cpurich {

/// A GPT-2 language model. Copies share parameters (see Module).
class GPT : public Module {
 public:
  /// GPT-2 initialisation from seed: weights N(0, 0.02), residual projections
  /// (attn.c_proj, mlp.c_proj) N(0, 0.02/sqrt(2*n_layer)), biases 0, LN w=1 b=0.
  /// Parameters are held in `dtype` (F32 to train, F64 for gradient checks).
  /// Throws std::invalid_argument naming a bad config field.
  GPT(const GPTConfig& config, uint64_t seed, DType dtype = DType::F32);
  /// Every weight zero (LayerNorm gains 1): a shell for load_state_dict,
  /// skipping the cost of drawing weights that are overwritten at once.
  static GPT zeros(const GPTConfig& config, DType dtype = DType::F32);

  const GPTConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  /// Converts every parameter in place (gradients are dropped).
  void to_dtype(DType dtype);

  /// ids (B*T, row-major) -> logits (B, T, vocab). 1 <= T <= n_positions.
  /// Throws std::invalid_argument on a size mismatch, std::out_of_range on
  /// an id >= vocab_size.
  Var forward(std::span<const int32_t> ids, int64_t B, int64_t T, bool training = false);
  /// Mean next-token cross-entropy: forward + ag::cross_entropy(targets, ignore_index).
  Var loss(std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t B, int64_t T,
           bool training = false, int32_t ignore_index = -1);

  /// Every trainable tensor with its HF name, in a fixed order (wte, wpe,
  /// h.0.ln_1.weight, ..., ln_f.bias): Module::named_parameters().
  using Module::named_parameters;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;
  /// name -> value tensor (shares storage with the parameters).
  std::map<std::string, Tensor> state_dict() const;
  /// Copies values in (converting to this model's dtype); throws
  /// std::runtime_error naming any missing, unexpected or mis-shaped tensor.
  void load_state_dict(const std::map<std::string, Tensor>& tensors);

  int64_t num_parameters() const;  ///< total (wte counted once: tied head)
  /// Total minus the embedding tables wte and wpe: the count N that Kaplan et
  /// al.'s scaling laws use. (nanoGPT subtracts only wpe, since wte doubles as
  /// the output head.)
  int64_t num_parameters_non_embedding() const;

  Rng& dropout_rng() { return dropout_rng_; }

  /// Every Linear with its module name ("h.0.attn.c_attn", "h.0.attn.c_proj",
  /// "h.0.mlp.c_fc", "h.0.mlp.c_proj", ...), mutable: LoRA attaches adapters
  /// to them and merges them back (nn/lora.h).
  std::vector<std::pair<std::string, Linear*>> linear_modules();

  // ---- the module tree, read-only (lessons print it) ------------------------
  const Embedding& wte() const { return wte_; }       ///< token embedding (V, C)
  const Embedding& wpe() const { return wpe_; }       ///< position embedding (P, C)
  const std::vector<Block>& h() const { return h_; }  ///< the n_layer blocks
  const LayerNorm& ln_f() const { return ln_f_; }     ///< final LayerNorm

 private:
  GPT(const GPTConfig& config, DType dtype, uint64_t seed, bool randomize, Rng init_rng);

  GPTConfig config_;
  DType dtype_;
  Embedding wte_;
  Embedding wpe_;
  std::vector<Block> h_;
  LayerNorm ln_f_;
  Rng dropout_rng_;
  std::vector<int32_t> positions_;  ///< 0, 1, ..., n_positions-1: wpe's ids
};

/// Writes DIR/config.json and DIR/model.safetensors (atomically, F32), creating DIR.
void save_model(const GPT& model, const std::string& dir);
/// Reads a model directory (ours or Hugging Face GPT-2's); throws with a
/// message naming the file and the field or tensor that is wrong (a NaN or
/// Inf weight too, unless options allow it: nn/load_options.h).
GPT load_model(const std::string& dir, const LoadOptions& options = {});

}  // namespace cpurich
