// trainer.cpp: the pretraining loop (see trainer.h for the step's anatomy).
#include "train/trainer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/ops.h"
#include "train/checkpoint_files.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

volatile std::sig_atomic_t g_stop = 0;  // set by request_stop / the SIGINT handler

extern "C" void on_sigint(int) {
  g_stop = 1;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Train and val streams draw from different Rngs, both derived from the run's
// seed, so evaluating never shifts the training batches.
TokenStream make_stream(std::span<const int32_t> ids, const TrainConfig& c, bool train) {
  auto [tr, va] = split_train_val(ids, c.val_fraction, c.block_size);
  return train ? TokenStream(std::move(tr), c.block_size, hash64(c.seed, 1), "train")
               : TokenStream(std::move(va), c.block_size, hash64(c.seed, 2), "validation");
}

LrSchedule make_schedule(const TrainConfig& c) {
  return LrSchedule{.peak = c.learning_rate,
                    .floor = c.min_lr,
                    .warmup = c.warmup_iters,
                    .decay_iters = c.max_iters};
}

std::string log_path(const TrainerOptions& o) {
  return (std::filesystem::path(o.out_dir) / "log.jsonl").string();
}

}  // namespace

void request_stop() {
  g_stop = 1;
}
bool stop_requested() {
  return g_stop != 0;
}
void clear_stop_request() {
  g_stop = 0;
}
void install_sigint_handler() {
  std::signal(SIGINT, on_sigint);
}

Trainer::Trainer(const TrainConfig& config, std::unique_ptr<Tokenizer> tokenizer,
                 std::span<const int32_t> ids, uint64_t corpus_hash, TrainerOptions options)
    : config_((config.validate(), config)),
      tokenizer_(std::move(tokenizer)),
      corpus_hash_(corpus_hash),
      options_(std::move(options)),
      model_(config_.model_config(tokenizer_->vocab_size()), config_.seed),
      optimizer_(model_.named_parameters(), AdamWOptions{.beta1 = config_.beta1,
                                                         .beta2 = config_.beta2,
                                                         .eps = config_.eps,
                                                         .weight_decay = config_.weight_decay}),
      train_(make_stream(ids, config_, true)),
      val_(make_stream(ids, config_, false)),
      schedule_(make_schedule(config_)) {}

Trainer Trainer::resume(const std::string& ckpt_dir, std::string_view corpus_text,
                        TrainerOptions options, std::optional<int64_t> max_iters) {
  const TrainState s = load_train_state(ckpt_dir);
  auto tok = load_tokenizer((std::filesystem::path(ckpt_dir) / "tokenizer.json").string());
  if (fnv1a64(corpus_text) != s.corpus_hash)
    throw std::runtime_error("cannot resume: the corpus differs from the one the checkpoint in " +
                             ckpt_dir + " was trained on");
  std::vector<int32_t> ids;
  if (options.out_dir.empty()) {
    ids = tok->encode(corpus_text);
  } else {
    std::filesystem::create_directories(options.out_dir);
    ids = build_or_load_tokens(corpus_text, *tok,
                               (std::filesystem::path(options.out_dir) / "tokens.bin").string())
              .ids;
  }
  TrainConfig cfg = s.config;
  if (max_iters) cfg.max_iters = *max_iters;
  Trainer t(cfg, std::move(tok), ids, s.corpus_hash, std::move(options));
  t.model_.load_state_dict(load_checkpoint_weights(ckpt_dir));
  t.optimizer_.load_state_tensors(load_checkpoint_optimizer(ckpt_dir), s.adam_step);
  t.train_.set_position(s.train_position);
  t.val_.set_position(s.val_position);
  t.model_.dropout_rng().set_counter(s.dropout_counter);
  t.iter_ = s.iter;
  t.tokens_seen_ = s.tokens_seen;
  if (!t.options_.out_dir.empty()) truncate_jsonl(log_path(t.options_), s.iter);
  return t;
}

//! [train_step]
StepResult Trainer::step() {
  const double t0 = now_s();
  StepResult r;
  r.lr = learning_rate_at(schedule_, iter_);
  const int64_t B = config_.batch_size, T = config_.block_size, accum = config_.grad_accum;
  double loss_sum = 0.0;
  for (int64_t micro = 0; micro < accum; ++micro) {
    const Batch b = train_.next_batch(B);
    Var loss = model_.loss(b.inputs, b.targets, B, T, /*training=*/true);
    const double l = loss.value().item();
    if (!std::isfinite(l)) {
      optimizer_.zero_grad();
      throw NonFiniteError("non-finite training loss (" + std::to_string(l) + ") at step " +
                           std::to_string(iter_ + 1));
    }
    loss_sum += l;
    // d(mean over micro-steps)/dloss_i = 1/accum: scale before backward so the
    // accumulated gradient is that of the mean, whatever accum is.
    if (accum > 1) loss = ag::mul_scalar(loss, 1.0 / static_cast<double>(accum));
    loss.backward();
  }
  try {
    r.grad_norm = clip_grad_norm(optimizer_.params(), config_.grad_clip);
  } catch (const NonFiniteError& e) {
    optimizer_.zero_grad();
    throw NonFiniteError(std::string(e.what()) + " at step " + std::to_string(iter_ + 1));
  }
  optimizer_.step(r.lr);
  optimizer_.zero_grad();
  ++iter_;
  r.iter = iter_;
  r.loss = loss_sum / static_cast<double>(accum);
  r.tokens = B * T * accum;
  tokens_seen_ += r.tokens;
  r.seconds = now_s() - t0;
  train_seconds_ += r.seconds;
  return r;
}
//! [train_step]

double Trainer::evaluate() {
  NoGradGuard no_grad;
  double sum = 0.0;
  for (int64_t i = 0; i < config_.eval_iters; ++i) {
    const Batch b = val_.next_batch(config_.batch_size);
    sum += model_.loss(b.inputs, b.targets, b.B, b.T, /*training=*/false).value().item();
  }
  const double mean = sum / static_cast<double>(config_.eval_iters);
  if (!std::isfinite(mean))
    throw NonFiniteError("non-finite validation loss at step " + std::to_string(iter_));
  return mean;
}

TrainState Trainer::state() {
  TrainState s;
  s.iter = iter_;
  s.tokens_seen = tokens_seen_;
  s.adam_step = optimizer_.step_count();
  s.train_position = train_.position();
  s.val_position = val_.position();
  s.dropout_counter = model_.dropout_rng().counter();
  s.corpus_hash = corpus_hash_;
  s.config = config_;
  return s;
}

void Trainer::save(const std::string& dir) {
  save_checkpoint(dir, model_, *tokenizer_, optimizer_, state());
}

void Trainer::write_log(const StepResult& r, double tokens_per_s) {
  nlohmann::json j = {{"iter", r.iter},
                      {"tokens", tokens_seen_},
                      {"loss", r.loss},
                      {"lr", r.lr},
                      {"grad_norm", r.grad_norm},
                      {"tokens_per_s", tokens_per_s},
                      {"train_seconds", train_seconds_}};
  if (r.val_loss) j["val_loss"] = *r.val_loss;
  std::ofstream out(log_path(options_), std::ios::app);
  if (!out) throw std::runtime_error("cannot append to " + log_path(options_));
  out << j.dump() << "\n";
  out.flush();
  if (!out)
    throw std::runtime_error("cannot append to " + log_path(options_) + ": " +
                             std::strerror(errno));
}

void Trainer::run(const std::function<void(const StepResult&)>& on_step) {
  const bool writes = !options_.out_dir.empty();
  if (writes) std::filesystem::create_directories(options_.out_dir);
  const double peak = options_.measure_peak ? measure_peak_flops(options_.threads) : 0.0;
  ProgressMeter meter(
      config_.max_iters,
      training_flops_per_token(model_.config(), model_.num_parameters(), config_.block_size), peak);
  const bool tty = isatty(STDERR_FILENO) != 0;
  while (!done()) {
    StepResult r = step();  // NonFiniteError propagates: no checkpoint after a bad step
    meter.record(r.tokens, r.seconds);
    const bool eval_now = eval_due();
    if (eval_now) r.val_loss = evaluate();
    const bool log_now = eval_now || iter_ % config_.log_every == 0 || iter_ == 1;
    if (writes && log_now) write_log(r, meter.tokens_per_s());
    if (!options_.quiet && (tty || log_now)) {
      std::string line = meter.line(iter_, r.loss, r.lr);
      if (r.val_loss) line += " | val " + std::to_string(*r.val_loss);
      std::fprintf(stderr, tty ? "\r%s\033[K%s" : "%s%s\n", line.c_str(),
                   (tty && r.val_loss) ? "\n" : "");
    }
    if (on_step) on_step(r);
    const bool stop = stop_requested();
    if (writes && (eval_now || stop)) save(options_.out_dir);
    if (stop) {
      if (!options_.quiet)
        std::fprintf(stderr, "\nstopped at step %lld; checkpoint saved in %s\n",
                     static_cast<long long>(iter_), options_.out_dir.c_str());
      break;
    }
  }
  if (!options_.quiet && tty) std::fprintf(stderr, "\n");
}

}  // namespace cpurich
