// finetune.h: supervised fine-tuning of a pretrained GPT on Q/A pairs, full or LoRA.
//
// What it teaches: fine-tuning is pretraining's step on different data with a
// different set of trainable tensors:
//   full  every weight trains; a lower peak rate (1e-4) than pretraining
//         moves the model without erasing what it learnt.
//   lora  the base is frozen and only the adapters train (nn/lora.h); they
//         start at zero, so a larger rate (1e-3) is safe and usual.
//   qlora lora on a base held as NF4 (nn/qlora.h): same step and rate, an
//         eighth of the base's memory; optionally LoftQ's adapter init.
// One step: draw B examples (each once per epoch, sft_data.h), pad them,
// forward with dropout on, mean cross-entropy over the answer tokens only,
// backward, clip the global gradient norm, AdamW. The rate warms up over the
// first 5% of the steps, then follows a cosine down to a tenth of the peak
// (train/schedule.h).
//
// A run can be checkpointed (save) and continued (restore) exactly: the
// trainable tensors, AdamW's moments and step, the dropout Rng counters and
// the step count are saved as one checksummed commit (checkpoint_files.h);
// the example order is replayed (the sampler is a pure function of the seed
// and the number of examples drawn), so a restored run takes the very steps
// an uninterrupted one would, bit for bit.
//
// Pipeline position: pretrained model + Q/A -> [fine-tuning] -> model dir / adapter dir.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/gpt.h"
#include "nn/lora.h"
#include "nn/qlora.h"
#include "train/adamw.h"
#include "train/schedule.h"
#include "train/sft_data.h"

namespace cpurich {

/// Full fine-tuning, LoRA, or LoRA on an NF4 base.
enum class FinetuneMethod { Full, Lora, QLora };
/// "full", "lora" or "qlora"; throws std::invalid_argument otherwise.
FinetuneMethod finetune_method_from_name(const std::string& name);

/// Every knob of a fine-tuning run.
struct FinetuneOptions {
  FinetuneMethod method = FinetuneMethod::Lora;
  LoraOptions lora{};    ///< used by methods lora and qlora
  QLoraOptions qlora{};  ///< used by method qlora
  int64_t iters = 200;   ///< optimizer steps
  double lr = 0.0;       ///< peak rate; 0 = the method's default (1e-4 full, 1e-3 lora)
  double warmup_fraction = 0.05;
  double min_lr_ratio = 0.1;  ///< the cosine ends at lr * this
  int64_t batch = 8;          ///< examples per step
  double weight_decay = 0.0;  ///< AdamW decoupled decay (dim >= 2 tensors)
  double grad_clip = 1.0;     ///< max global gradient norm (0 = off)
  uint64_t seed = 1337;       ///< example order (and LoRA's init and dropout)

  /// Throws std::invalid_argument naming the bad field.
  void validate() const;
  /// lr, or the method's default when lr is 0.
  double peak_lr() const;
};

/// What one step did.
struct FinetuneStep {
  int64_t iter = 0;   ///< steps done after this one
  double loss = 0.0;  ///< masked mean loss of the batch
  double lr = 0.0;
  double grad_norm = 0.0;  ///< before clipping
  int64_t tokens = 0;      ///< B * T positions computed (padding included)
  double seconds = 0.0;
};

/// A fine-tuning run over one model and one data set.
class FineTuner {
 public:
  /// Attaches the adapters (lora) and builds the optimizer over the trainable tensors.
  FineTuner(GPT& model, const SftData& data, const FinetuneOptions& options);

  /// One optimizer step; throws NonFiniteError before any weight changes.
  FinetuneStep step();
  /// Masked mean loss over every example (no graph, no dropout), in batches.
  double dataset_loss();

  /// Writes the run's state into dir as one commit: trainable.safetensors,
  /// optimizer.safetensors and finetune_state.json (the counters, plus `run`:
  /// the caller's description of the run, checked when resuming). On failure
  /// throws naming the file, dir still holding the previous checkpoint.
  void save(const std::string& dir, const nlohmann::json& run);
  /// Restores what save() wrote into dir (every file's CRC-32 checked first)
  /// onto this freshly built FineTuner; returns the saved `run`.
  nlohmann::json restore(const std::string& dir);

  int64_t iter() const { return iter_; }
  int64_t trainable_parameters() const;
  const FinetuneOptions& options() const { return options_; }
  const LrSchedule& schedule() const { return schedule_; }
  /// What quantizing the base did (method qlora; zeros otherwise).
  const QLoraStats& qlora_stats() const { return qlora_stats_; }

 private:
  GPT& model_;
  const SftData& data_;
  FinetuneOptions options_;
  QLoraStats qlora_stats_;
  NamedParameters params_;
  AdamW optimizer_;
  SftSampler sampler_;
  LrSchedule schedule_;
  int64_t iter_ = 0;
};

}  // namespace cpurich
