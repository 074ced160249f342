// train_config.h: every knob of a pretraining run in one value type.
//
// What it teaches: a training run is fully described by a handful of numbers
// (model shape, batch, learning-rate schedule, optimizer constants, seed). We
// keep them in one struct that is saved as JSON inside every checkpoint, so a
// run can be resumed, audited or repeated exactly. Two named presets follow
// nanoGPT's recipes: `tiny` (its CPU recipe) and `small` (shakespeare-char);
// a third, `world`, is the recipe for storing the world corpus's facts
// (docs/course/world.md).
//
// Pipeline position: text -> tokens -> [training config] -> model -> samples.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "nn/config.h"

namespace cpurich {

/// Hyper-parameters of one pretraining run. Defaults are the `tiny` preset.
struct TrainConfig {
  // ---- model shape ----
  int64_t n_layer = 4;      ///< transformer blocks
  int64_t n_head = 4;       ///< attention heads per block
  int64_t n_embd = 128;     ///< residual stream width C
  int64_t block_size = 64;  ///< context length T
  double dropout = 0.0;     ///< dropout probability while training

  // ---- data ----
  int64_t batch_size = 12;         ///< sequences per micro-step (B)
  int64_t grad_accum = 1;          ///< micro-steps per optimizer step
  double val_fraction = 0.1;       ///< last fraction of the token stream held out
  std::string tokenizer = "char";  ///< "char" or "bpe"
  int64_t vocab_size = 0;          ///< BPE target vocabulary (0 = tokenizer default)

  // ---- optimisation ----
  int64_t max_iters = 2000;     ///< optimizer steps; the schedule ends here
  double learning_rate = 1e-3;  ///< peak learning rate
  double min_lr = 1e-4;         ///< floor reached at max_iters (cosine decay)
  int64_t warmup_iters = 100;   ///< linear warm-up length
  double beta1 = 0.9;
  double beta2 = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.1;  ///< decoupled, on tensors with dim >= 2 only
  double grad_clip = 1.0;     ///< max global gradient norm (0 = no clipping)

  // ---- bookkeeping ----
  int64_t eval_every = 250;  ///< validate (and checkpoint) every this many steps
  int64_t eval_iters = 20;   ///< val batches averaged per evaluation
  int64_t log_every = 10;    ///< steps between log.jsonl lines
  uint64_t seed = 1337;      ///< model init, batches and dropout all derive from it

  /// Throws std::invalid_argument naming the first bad field.
  void validate() const;
  /// The GPTConfig for this run, given the tokenizer's vocabulary size.
  GPTConfig model_config(int64_t vocab) const;
};

/// nanoGPT's CPU recipe: block 64, batch 12, 4x4x128, 2000 iters, lr 1e-3 -> 1e-4.
TrainConfig tiny_config();
/// nanoGPT's shakespeare-char: block 256, batch 64, 6x6x384, dropout 0.2, 5000 iters.
TrainConfig small_config();
/// Knowledge storage on the world corpus: BPE (vocab 1024), block 128, 2 layers x
/// 4 heads x 128 dims, batch 8, lr 2e-3, no dropout, 2% validation (every
/// held-out biography is facts unread). Small and cheap per token: storing a
/// fact costs exposures, so tokens per second is what counts.
TrainConfig world_config();
/// "tiny", "small" or "world"; throws std::invalid_argument on any other name.
TrainConfig named_config(const std::string& name);

/// Every field, by its struct name.
nlohmann::json train_config_to_json(const TrainConfig& config);
/// Inverse of train_config_to_json; throws std::runtime_error naming a missing
/// or mistyped key, then validates.
TrainConfig train_config_from_json(const nlohmann::json& j);

}  // namespace cpurich
