// cmd_pretrain.cpp: `cpurich pretrain`, the command-line face of train/trainer.h.
//
//   cpurich pretrain --corpus FILE --out DIR [--config tiny|small] [overrides...]
//   cpurich pretrain --corpus FILE --out DIR --resume DIR [--iters N]
//
// A fresh run trains a tokenizer on the corpus (char, or byte-level BPE),
// caches the token ids in DIR/tokens.bin, builds the named config, applies
// any flag given on top of it, and trains. DIR ends up a model directory
// (config.json, model.safetensors, tokenizer.json) plus optimizer state,
// train_state.json and log.jsonl. Ctrl-C saves a checkpoint after the current
// step; --resume continues exactly where the checkpoint left off. DIR is
// locked (DIR/.lock) while the run writes it, and a model that cannot fit in
// memory is refused before anything is allocated.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "nn/memory_estimate.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "train/trainer.h"
#include "util/dir_lock.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

struct PretrainArgs {
  std::string corpus, out, config = "tiny", resume, tokenizer;  // "": the config's
  TrainConfig o;  // override values, applied only for flags that were given
  int threads = 0;
  int64_t vocab = 0;
  std::vector<std::pair<CLI::Option*, std::string>> overrides;  // (flag, config field)
};

// Copies each override that appeared on the command line into cfg.
void apply_overrides(const PretrainArgs& a, TrainConfig& cfg) {
  const TrainConfig& o = a.o;
  for (const auto& [opt, field] : a.overrides) {
    if (opt->count() == 0) continue;
    if (field == "n_layer")
      cfg.n_layer = o.n_layer;
    else if (field == "n_head")
      cfg.n_head = o.n_head;
    else if (field == "n_embd")
      cfg.n_embd = o.n_embd;
    else if (field == "block_size")
      cfg.block_size = o.block_size;
    else if (field == "batch_size")
      cfg.batch_size = o.batch_size;
    else if (field == "max_iters")
      cfg.max_iters = o.max_iters;
    else if (field == "learning_rate")
      cfg.learning_rate = o.learning_rate;
    else if (field == "warmup_iters")
      cfg.warmup_iters = o.warmup_iters;
    else if (field == "min_lr")
      cfg.min_lr = o.min_lr;
    else if (field == "weight_decay")
      cfg.weight_decay = o.weight_decay;
    else if (field == "grad_clip")
      cfg.grad_clip = o.grad_clip;
    else if (field == "grad_accum")
      cfg.grad_accum = o.grad_accum;
    else if (field == "dropout")
      cfg.dropout = o.dropout;
    else if (field == "eval_every")
      cfg.eval_every = o.eval_every;
    else if (field == "eval_iters")
      cfg.eval_iters = o.eval_iters;
    else if (field == "log_every")
      cfg.log_every = o.log_every;
    else if (field == "seed")
      cfg.seed = o.seed;
  }
}

std::unique_ptr<Tokenizer> train_tokenizer(const std::string& kind, int64_t vocab,
                                           const std::string& text) {
  if (kind == "char") return std::make_unique<CharTokenizer>(CharTokenizer::train(text));
  BpeOptions opts;
  if (vocab > 0) opts.vocab_size = static_cast<int32_t>(vocab);
  std::fprintf(stderr, "training a byte-level BPE tokenizer (vocab %d)...\n", opts.vocab_size);
  return std::make_unique<BpeTokenizer>(train_bpe(text, opts));
}

void print_summary(Trainer& t, const std::string& out) {
  const TrainConfig& c = t.config();
  std::fprintf(stderr,
               "model: %lld layers, %lld heads, %lld dims, block %lld, vocab %d: %.2fM parameters\n"
               "training: batch %lld x accum %lld, %lld iters, lr %.1e -> %.1e, warmup %lld, "
               "%d threads; run dir %s\n",
               static_cast<long long>(c.n_layer), static_cast<long long>(c.n_head),
               static_cast<long long>(c.n_embd), static_cast<long long>(c.block_size),
               t.tokenizer().vocab_size(), static_cast<double>(t.model().num_parameters()) / 1e6,
               static_cast<long long>(c.batch_size), static_cast<long long>(c.grad_accum),
               static_cast<long long>(c.max_iters), c.learning_rate, c.min_lr,
               static_cast<long long>(c.warmup_iters), num_threads(), out.c_str());
}

// Refuses, before anything is allocated, a model, batch or context that cannot fit.
void check_memory(const TrainConfig& c, int64_t vocab) {
  const GPTConfig g = c.model_config(vocab);
  check_fits_in_memory(training_memory(g, gpt_parameter_count(g), c.batch_size, c.block_size),
                       "training this model");
}

Trainer start_fresh(const PretrainArgs& a, const std::string& text, TrainerOptions opts,
                    std::optional<DirLock>& lock) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(a.out) / "train_state.json") || fs::exists(fs::path(a.out) / "log.jsonl"))
    throw std::runtime_error(a.out + " already holds a training run; pass --resume " + a.out +
                             " to continue it, or choose another --out");
  TrainConfig cfg = named_config(a.config);
  apply_overrides(a, cfg);
  if (!a.tokenizer.empty()) cfg.tokenizer = a.tokenizer;
  if (a.vocab > 0) cfg.vocab_size = a.vocab;
  cfg.validate();
  auto tok = train_tokenizer(cfg.tokenizer, cfg.vocab_size, text);
  check_memory(cfg, tok->vocab_size());
  lock.emplace(a.out);  // one writer per directory, released even by kill -9
  auto cache = build_or_load_tokens(text, *tok, (fs::path(a.out) / "tokens.bin").string());
  std::fprintf(stderr, "corpus: %zu bytes -> %zu tokens (%s)\n", text.size(), cache.ids.size(),
               cache.reused ? "cached" : "tokenized");
  return Trainer(cfg, std::move(tok), cache.ids, fnv1a64(text), std::move(opts));
}

Trainer start_resume(const PretrainArgs& a, const std::string& text, TrainerOptions opts,
                     std::optional<DirLock>& lock) {
  for (const auto& [opt, field] : a.overrides)
    if (opt->count() > 0 && field != "max_iters" && field != "eval_every" && field != "log_every")
      throw std::runtime_error(opt->get_name() +
                               " cannot change when resuming (the checkpoint holds the config); "
                               "only --iters, --eval-every and --log-every may");
  std::optional<int64_t> iters;
  for (const auto& [opt, field] : a.overrides)
    if (opt->count() > 0 && field == "max_iters") iters = a.o.max_iters;
  lock.emplace(a.out);
  std::optional<DirLock> source;  // resuming may finish the source's interrupted save
  std::error_code ec;
  const auto source_lock = std::filesystem::path(a.resume) / ".lock";
  const bool source_lock_is_new = !std::filesystem::exists(source_lock);
  if (std::filesystem::is_directory(a.resume) && !std::filesystem::equivalent(a.resume, a.out, ec))
    source.emplace(a.resume);
  const TrainState s = [&] {
    try {
      return load_train_state(a.resume);
    } catch (...) {
      // Not a checkpoint: leave the directory as it was found.
      source.reset();
      if (source_lock_is_new) std::filesystem::remove(source_lock, ec);
      throw;
    }
  }();
  if (const auto g = peek_model_config(a.resume)) check_memory(s.config, g->vocab_size);
  Trainer t = Trainer::resume(a.resume, text, std::move(opts), iters);
  std::fprintf(stderr, "resuming %s at step %lld\n", a.resume.c_str(),
               static_cast<long long>(t.iter()));
  return t;
}

void run_pretrain(const PretrainArgs& a) {
  apply_threads(a.threads);
  const std::string text = read_text_input("--corpus", a.corpus);
  TrainerOptions opts{
      .out_dir = a.out, .quiet = false, .measure_peak = true, .threads = num_threads()};
  // A run that fails before its first step (say, an unreadable --resume)
  // leaves behind no directory it created.
  const bool out_is_new = !std::filesystem::exists(a.out);
  std::optional<DirLock> lock;
  Trainer t = [&] {
    try {
      return a.resume.empty() ? start_fresh(a, text, opts, lock)
                              : start_resume(a, text, opts, lock);
    } catch (...) {
      lock.reset();
      std::error_code ec;
      if (out_is_new) std::filesystem::remove_all(a.out, ec);
      throw;
    }
  }();
  print_summary(t, a.out);
  install_sigint_handler();
  try {
    t.run();
  } catch (const NonFiniteError& e) {
    throw std::runtime_error(std::string(e.what()) + "; training stopped, the last checkpoint in " +
                             a.out + " (if any) is untouched");
  }
  if (stop_requested()) return;  // run() already said where the checkpoint is
  std::fprintf(
      stderr,
      "done: %lld steps (%.1f s of training steps, evaluation excluded); model directory %s\n",
      static_cast<long long>(t.iter()), t.train_seconds(), a.out.c_str());
}

}  // namespace

void register_pretrain(CLI::App& app) {
  auto a = std::make_shared<PretrainArgs>();
  CLI::App* sub = app.add_subcommand("pretrain", "Pretrain a GPT on a text corpus");
  sub->add_option("--corpus", a->corpus, "Training text (UTF-8)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out", a->out, "Run directory: checkpoints, log.jsonl, the final model")
      ->required()
      ->check(output_dir());
  sub->add_option("--config", a->config, "Named config the other flags override")
      ->check(CLI::IsMember({"tiny", "small", "world"}));
  sub->add_option("--resume", a->resume, "Continue the run checkpointed in this directory")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer to train on the corpus (default: the config's, char except world)")
      ->check(CLI::IsMember({"char", "bpe"}));
  sub->add_option("--vocab", a->vocab, "BPE vocabulary size (default 512)")
      ->check(CLI::Range(257, 1 << 20));
  TrainConfig& o = a->o;
  // Each override with its range, checked while parsing (so the error names the flag).
  auto add = [&](const char* flag, auto& value, const char* field, const char* help,
                 const CLI::Validator& range) {
    a->overrides.emplace_back(sub->add_option(flag, value, help)->check(range), field);
  };
  const auto count = [](int64_t lo, int64_t hi) { return CLI::Range(lo, hi); };
  const CLI::Range fraction(0.0, 0.999);
  add("--n-layer", o.n_layer, "n_layer", "Transformer blocks", count(1, 1024));
  add("--n-head", o.n_head, "n_head", "Attention heads", count(1, 1024));
  add("--n-embd", o.n_embd, "n_embd", "Embedding width", count(1, 65536));
  add("--block", o.block_size, "block_size", "Context length", count(1, 1 << 20));
  add("--batch", o.batch_size, "batch_size", "Sequences per micro-step", count(1, 1 << 20));
  add("--iters", o.max_iters, "max_iters", "Optimizer steps (the schedule ends here)",
      count(1, int64_t{1} << 40));
  add("--lr", o.learning_rate, "learning_rate", "Peak learning rate", CLI::PositiveNumber);
  add("--warmup", o.warmup_iters, "warmup_iters", "Linear warm-up steps",
      count(0, int64_t{1} << 40));
  add("--min-lr", o.min_lr, "min_lr", "Learning-rate floor of the cosine decay",
      CLI::NonNegativeNumber);
  add("--weight-decay", o.weight_decay, "weight_decay", "AdamW decoupled weight decay",
      CLI::NonNegativeNumber);
  add("--grad-clip", o.grad_clip, "grad_clip", "Max global gradient norm (0 = off)",
      CLI::NonNegativeNumber);
  add("--accum", o.grad_accum, "grad_accum", "Gradient-accumulation micro-steps",
      count(1, 1 << 20));
  add("--dropout", o.dropout, "dropout", "Dropout probability", fraction);
  add("--eval-every", o.eval_every, "eval_every", "Steps between validation + checkpoint",
      count(1, int64_t{1} << 40));
  add("--eval-iters", o.eval_iters, "eval_iters", "Validation batches per evaluation",
      count(1, 1 << 20));
  add("--log-every", o.log_every, "log_every", "Steps between log.jsonl lines",
      count(1, int64_t{1} << 40));
  add("--seed", o.seed, "seed", "Seed for init, batches and dropout", CLI::Validator());
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_pretrain(*a); });
}

}  // namespace cpurich::cli
