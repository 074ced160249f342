// trainer.h: the pretraining loop.
//
// What it teaches: one optimizer step is
//   1. for each of `accum` micro-steps: draw a batch, forward, loss/accum, backward
//      (gradients add up across micro-steps, so the sum is the gradient of
//      the mean loss over accum * B sequences: a bigger batch in the same memory)
//   2. measure the global gradient norm; clip it to grad_clip
//   3. AdamW update with the scheduled learning rate; drop the gradients
// Every `eval_every` steps the loop estimates the validation loss (mean over
// eval_iters random val batches, no graph recorded) and writes a checkpoint.
// Anything NaN or infinite stops the run before it can reach a checkpoint.
//
// Pipeline position: tokens -> [training loop] -> model directory -> samples.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "nn/gpt.h"
#include "tokenizer/tokenizer.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/progress.h"
#include "train/schedule.h"
#include "train/train_config.h"

namespace cpurich {

/// Where a run writes, and how chatty it is.
struct TrainerOptions {
  std::string out_dir;       ///< run dir: log.jsonl + checkpoints ("" = write nothing)
  bool quiet = false;        ///< no progress line on stderr
  bool measure_peak = true;  ///< run the FMA microbenchmark for the MFU column
  int threads = 1;           ///< threads the peak is measured for
};

/// What one optimizer step did.
struct StepResult {
  int64_t iter = 0;                ///< steps completed after this one (1 for the first)
  double loss = 0.0;               ///< mean training loss over the micro-steps
  double lr = 0.0;                 ///< learning rate used
  double grad_norm = 0.0;          ///< global norm before clipping
  int64_t tokens = 0;              ///< tokens processed (B * T * accum)
  double seconds = 0.0;            ///< wall time of the step
  std::optional<double> val_loss;  ///< set by run() on evaluation steps
};

/// A pretraining run: the model, its optimizer, the data streams and the step counter.
class Trainer {
 public:
  /// A fresh run on `ids` (the tokenized corpus; split train/val here).
  /// corpus_hash (fnv1a64 of the text) is recorded in checkpoints.
  Trainer(const TrainConfig& config, std::unique_ptr<Tokenizer> tokenizer,
          std::span<const int32_t> ids, uint64_t corpus_hash, TrainerOptions options);

  /// Continues the run saved in ckpt_dir on corpus_text (which must be the
  /// same corpus: its hash is checked). max_iters, if given, replaces the
  /// saved value (to extend a run). Tokens are cached in out_dir/tokens.bin.
  static Trainer resume(const std::string& ckpt_dir, std::string_view corpus_text,
                        TrainerOptions options, std::optional<int64_t> max_iters = {});

  /// One optimizer step. Throws NonFiniteError (naming the loss or the first
  /// parameter with a non-finite gradient) before any weight is changed.
  StepResult step();
  /// Mean validation loss over eval_iters val batches, in inference mode.
  double evaluate();
  /// Writes a checkpoint of the current state into dir.
  void save(const std::string& dir);

  /// Steps until max_iters or a stop request (request_stop / SIGINT), with
  /// logging, evaluation and checkpoints into options.out_dir. on_step (may be
  /// empty) sees every step after it is logged, before any checkpoint.
  void run(const std::function<void(const StepResult&)>& on_step = {});

  /// True once max_iters steps are done (the loop's exit test).
  bool done() const { return iter_ >= config_.max_iters; }
  /// True right after a step that should be followed by evaluate(): every
  /// eval_every steps, and after the last one.
  bool eval_due() const {
    return iter_ > 0 && (iter_ % config_.eval_every == 0 || iter_ == config_.max_iters);
  }

  GPT& model() { return model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const TrainConfig& config() const { return config_; }
  int64_t iter() const { return iter_; }
  /// Wall time of the steps taken by this process (evaluation and saving excluded).
  double train_seconds() const { return train_seconds_; }
  /// The counters a checkpoint stores (positions read from the live Rngs).
  TrainState state();

 private:
  void write_log(const StepResult& r, double tokens_per_s);
  TrainConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  uint64_t corpus_hash_;
  TrainerOptions options_;
  GPT model_;
  AdamW optimizer_;
  TokenStream train_, val_;
  LrSchedule schedule_;
  int64_t iter_ = 0;
  int64_t tokens_seen_ = 0;
  double train_seconds_ = 0.0;
};

/// Asks a running Trainer::run to stop after the current step (with a checkpoint).
/// Async-signal-safe: it only sets a flag.
void request_stop();
bool stop_requested();
void clear_stop_request();
/// Makes Ctrl-C (SIGINT) call request_stop().
void install_sigint_handler();

}  // namespace cpurich
