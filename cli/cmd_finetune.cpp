// cmd_finetune.cpp: `cpurich finetune` (train/finetune.h) and `cpurich lora merge`.
//
//   cpurich finetune --model DIR --data FILE|WORLD_DIR --out DIR [--method full|lora|qlora]
//                    [--rank --alpha --dropout --targets --rslora --lr --iters --batch --seed ...]
//                    [--init plain|loftq --loftq-iters N]   (qlora)
//   cpurich lora merge --model DIR --adapter DIR --out DIR
//
// full writes a model directory (config.json, model.safetensors,
// tokenizer.json); lora and qlora write a PEFT adapter directory
// (nn/lora_io.h); a qlora adapter applies to the f32 base and records that it
// was trained against the NF4 one.
// Both append one JSON line per logged step to OUT/finetune_log.jsonl and
// report the masked loss over the whole data set before and after.
// --save-every N checkpoints the run into OUT every N steps (and at the end);
// --resume continues it exactly, given the same base, data and flags. OUT is
// locked (OUT/.lock) while a run writes it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "nn/gpt.h"
#include "nn/lora.h"
#include "nn/lora_io.h"
#include "nn/memory_estimate.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint_files.h"
#include "train/finetune.h"
#include "train/progress.h"
#include "train/sft_data.h"
#include "util/crc32.h"
#include "util/dir_lock.h"

namespace cpurich::cli {

namespace {

struct FinetuneArgs {
  std::string model, data, out, method = "lora", init = "plain";
  FinetuneOptions o;
  int64_t log_every = 10;
  int64_t save_every = 0;  // 0: no checkpoints
  bool resume = false;
  bool json = false;
  int threads = 0;
};

// Writing the result over the base would destroy what an adapter is checked against.
void refuse_same_dir(const std::string& model, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::equivalent(model, out, ec))
    throw std::runtime_error("--out " + out + " is the base model directory; choose another");
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A world directory fine-tunes on its train group (and its abstain examples)
// only (test and unseen are what qa-eval asks about afterwards); a file is used whole.
std::vector<QAPair> training_pairs(const std::string& path) {
  std::vector<QAPair> pairs = read_qa_source(path);
  if (!std::filesystem::is_directory(path)) return pairs;
  std::vector<QAPair> train;
  for (QAPair& p : pairs)
    if (p.group == "train" || p.group == "abstain") train.push_back(std::move(p));
  if (train.empty()) throw std::runtime_error(path + ": no qa_train.jsonl to fine-tune on");
  return train;
}

// Refuses, before anything is allocated, a model, batch or context that cannot fit.
void check_memory(const FinetuneArgs& a) {
  const auto c = peek_model_config(a.model);
  if (!c) return;
  // LoRA per layer on c_attn (C -> 3C), attn.c_proj (C -> C), c_fc (C -> 4C),
  // mlp.c_proj (4C -> C): r (in + out) each, 16 r C in all (the default targets).
  const double lora = 16.0 * static_cast<double>(a.o.lora.rank * c->n_embd * c->n_layer);
  const double trainable = a.o.method == FinetuneMethod::Full ? gpt_parameter_count(*c) : lora;
  check_fits_in_memory(training_memory(*c, trainable, a.o.batch, c->n_positions),
                       "fine-tuning " + a.model);
}

// What a checkpoint must agree on to be resumed: the flags that shape the run,
// the base weights and the tokenized data.
nlohmann::json run_description(const FinetuneArgs& a, const std::string& base,
                               const SftData& data) {
  uint32_t crc = 0;
  for (const SftExample& e : data.examples) {
    crc = crc32_update(crc, std::to_string(e.n_prompt) + ":");
    crc = crc32_update(crc, std::string_view(reinterpret_cast<const char*>(e.ids.data()),
                                             e.ids.size() * sizeof(int32_t)));
  }
  const FinetuneOptions& o = a.o;
  return {
      {"method", a.method},        {"init", a.init},          {"loftq_iters", o.qlora.loftq_iters},
      {"rank", o.lora.rank},       {"alpha", o.lora.alpha},   {"dropout", o.lora.dropout},
      {"targets", o.lora.targets}, {"rslora", o.lora.rslora}, {"lr", o.lr},
      {"iters", o.iters},          {"batch", o.batch},        {"weight_decay", o.weight_decay},
      {"grad_clip", o.grad_clip},  {"seed", o.seed},          {"base", base},
      {"data_crc32", crc}};
}

// The first key on which the checkpoint's run and this command line differ.
void check_same_run(const nlohmann::json& saved, const nlohmann::json& now,
                    const std::string& dir) {
  for (const auto& el : now.items()) {
    const std::string& key = el.key();
    const nlohmann::json& value = el.value();
    if (!saved.contains(key) || saved[key] != value)
      throw std::runtime_error("cannot resume " + dir + ": its run has " + key + " = " +
                               (saved.contains(key) ? saved[key].dump() : "(none)") +
                               ", this command " + value.dump() +
                               " (pass the same --model, --data and flags)");
  }
}

void run_finetune(FinetuneArgs a) {
  apply_threads(a.threads);
  namespace fs = std::filesystem;
  a.o.method = finetune_method_from_name(a.method);
  if (a.o.method != FinetuneMethod::QLora && (a.init != "plain" || a.o.qlora.loftq_iters > 0))
    throw std::runtime_error("--init and --loftq-iters apply to --method qlora only");
  if (a.init == "loftq" && a.o.qlora.loftq_iters == 0) a.o.qlora.loftq_iters = 1;
  if (a.init == "plain" && a.o.qlora.loftq_iters > 0)
    throw std::runtime_error("--loftq-iters needs --init loftq");
  a.o.validate();
  if (a.save_every < 0) throw std::runtime_error("--save-every must be >= 0");
  refuse_same_dir(a.model, a.out);
  check_memory(a);
  const std::string state_file = (fs::path(a.out) / "finetune_state.json").string();
  if (a.resume && !fs::exists(state_file))
    throw std::runtime_error("cannot resume: " + state_file +
                             " not found (the run saved no checkpoint; start it again without "
                             "--resume in an empty --out)");
  if (!a.resume && (fs::exists(fs::path(a.out) / "finetune_log.jsonl") || fs::exists(state_file)))
    throw std::runtime_error(a.out +
                             " already holds a fine-tuning run; pass --resume to continue it, or "
                             "choose another --out");
  GPT model = load_model(a.model);
  if (a.o.method != FinetuneMethod::Full)
    for (const std::string& t : a.o.lora.targets) {
      bool found = false;
      for (const auto& [name, lin] : model.linear_modules())
        found = found || lora_target_matches(name, {t});
      if (!found)
        throw std::invalid_argument("--targets: '" + t +
                                    "' matches no layer (GPT-2's are c_attn, c_proj, c_fc, "
                                    "attn.c_proj, mlp.c_proj)");
    }
  const auto tok = load_tokenizer_from_dir(a.model);
  const std::vector<QAPair> pairs = training_pairs(a.data);
  const SftData data = build_sft_data(pairs, *tok, model.config().n_positions);
  const SftStats& s = data.stats;
  std::fprintf(stderr,
               "data: %lld Q/A pairs, %lld answer tokens; %lld longer than the block of %lld "
               "tokens were truncated (%lld of them dropped: no answer token left); longest %lld\n",
               static_cast<long long>(s.pairs), static_cast<long long>(s.answer_tokens),
               static_cast<long long>(s.truncated), static_cast<long long>(data.block_size),
               static_cast<long long>(s.dropped), static_cast<long long>(s.max_tokens));
  const int64_t total = model.num_parameters();
  // A qlora adapter is checked against the f32 base, which quantizing releases.
  const bool qlora = a.o.method == FinetuneMethod::QLora;
  const bool checkpoints = a.save_every > 0 || a.resume;
  const std::string checksum = qlora || checkpoints ? base_checksum(model) : std::string();
  const nlohmann::json run =
      checkpoints ? run_description(a, checksum, data) : nlohmann::json::object();
  FineTuner ft(model, data, a.o);
  double loss_before = 0.0;
  const DirLock lock(a.out);  // one writer per directory, released even by kill -9
  if (a.resume) {
    // The flags first (a clearer error than a tensor of the wrong shape), then the state.
    check_same_run(open_commit(a.out, "finetune_state.json").value("run", nlohmann::json()), run,
                   a.out);
    loss_before = ft.restore(a.out).value("loss_before", 0.0);
    std::fprintf(stderr, "resuming %s at step %lld\n", a.out.c_str(),
                 static_cast<long long>(ft.iter()));
  }
  if (a.o.method == FinetuneMethod::QLora) {
    const QLoraStats& q = ft.qlora_stats();
    std::fprintf(stderr,
                 "qlora: %lld base weights as NF4 in %.2f MB (%.3f bits/weight; f32: %.2f MB); "
                 "init %s: ||W - (nf4(W) + s BA)|| / ||W|| = %.5f\n",
                 static_cast<long long>(q.base_weights), static_cast<double>(q.base_bytes) / 1e6,
                 8.0 * static_cast<double>(q.base_bytes) / static_cast<double>(q.base_weights),
                 4.0 * static_cast<double>(q.base_weights) / 1e6,
                 a.o.qlora.loftq_iters > 0
                     ? ("loftq x" + std::to_string(a.o.qlora.loftq_iters)).c_str()
                     : "plain",
                 q.init_error / q.weight_norm);
  }
  const int64_t trainable = ft.trainable_parameters();
  std::fprintf(stderr,
               "method %s: %lld trainable parameters of %lld (%.3f%%); %lld iters, batch %lld, "
               "lr %.1e (warmup %lld, cosine to %.1e), %d threads\n",
               a.method.c_str(), static_cast<long long>(trainable), static_cast<long long>(total),
               100.0 * static_cast<double>(trainable) / static_cast<double>(total),
               static_cast<long long>(a.o.iters), static_cast<long long>(a.o.batch),
               ft.schedule().peak, static_cast<long long>(ft.schedule().warmup),
               ft.schedule().floor, num_threads());
  const std::string log_path = (fs::path(a.out) / "finetune_log.jsonl").string();
  if (a.resume) truncate_jsonl(log_path, ft.iter());  // drop steps the resumed run redoes
  std::ofstream log(log_path, a.resume ? std::ios::app : std::ios::trunc);
  if (!log) throw std::runtime_error("cannot write " + log_path);
  if (!a.resume) loss_before = ft.dataset_loss();
  nlohmann::json saved_run = run;
  saved_run["loss_before"] = loss_before;
  const double t0 = now_s();
  double step_seconds = 0.0;
  // Pretraining's progress line: smoothed tok/s, MFU against the measured FMA peak, ETA.
  ProgressMeter meter(a.o.iters, finetune_flops_per_token(total, trainable),
                      measure_peak_flops(num_threads()));
  while (ft.iter() < a.o.iters) {
    const FinetuneStep r = ft.step();
    step_seconds += r.seconds;
    meter.record(r.tokens, r.seconds);
    if (r.iter % a.log_every == 0 || r.iter == 1 || r.iter == a.o.iters) {
      log << nlohmann::json{{"iter", r.iter},
                            {"loss", r.loss},
                            {"lr", r.lr},
                            {"grad_norm", r.grad_norm},
                            {"seconds", step_seconds}}
                 .dump()
          << "\n";
      log.flush();
      if (!log) throw std::runtime_error("cannot append to " + log_path);
      std::fprintf(stderr, "%s\n", meter.line(r.iter, r.loss, r.lr).c_str());
    }
    if (a.save_every > 0 && (r.iter % a.save_every == 0 || r.iter == a.o.iters))
      ft.save(a.out, saved_run);
  }
  const double train_s = now_s() - t0;
  const double loss_after = ft.dataset_loss();
  if (a.o.method == FinetuneMethod::Full) {
    save_model(model, a.out);
    save_tokenizer(*tok, (fs::path(a.out) / "tokenizer.json").string());
  } else {
    LoraOptions lo = a.o.lora;
    const bool q = a.o.method == FinetuneMethod::QLora;
    save_lora_adapter(model, lo, fs::absolute(a.model).string(), a.out,
                      AdapterProvenance{.base_checksum = checksum,
                                        .trained_against = q ? "nf4" : "f32",
                                        .loftq_iters = a.o.qlora.loftq_iters});
  }
  if (a.json) {
    nlohmann::json j{
        {"method", a.method},    {"iters", a.o.iters},         {"trainable_params", trainable},
        {"total_params", total}, {"loss_before", loss_before}, {"loss_after", loss_after},
        {"seconds", train_s},    {"truncated", s.truncated},   {"dropped", s.dropped}};
    if (a.o.method == FinetuneMethod::QLora) {
      j["init_error"] = ft.qlora_stats().init_error;
      j["weight_norm"] = ft.qlora_stats().weight_norm;
      j["base_nf4_bytes"] = ft.qlora_stats().base_bytes;
    }
    std::printf("%s\n", j.dump().c_str());
  }
  std::fprintf(
      stderr, "done: masked loss over the data %.4f -> %.4f in %lld steps (%.1f s); %s %s\n",
      loss_before, loss_after, static_cast<long long>(a.o.iters), train_s,
      a.o.method == FinetuneMethod::Full ? "model directory" : "adapter directory", a.out.c_str());
}

struct MergeArgs {
  std::string model, adapter, out;
};

void run_merge(const MergeArgs& a) {
  refuse_same_dir(a.model, a.out);
  GPT model = load_model(a.model);
  const auto tok = load_tokenizer_from_dir(a.model);
  const LoraOptions o = load_lora_adapter(model, a.adapter);
  const size_t n = lora_modules(model).size();
  merge_lora(model);
  save_model(model, a.out);
  save_tokenizer(*tok, (std::filesystem::path(a.out) / "tokenizer.json").string());
  std::fprintf(stderr, "merged %zu adapters (r %lld, scale %g) into %s\n", n,
               static_cast<long long>(o.rank), o.scale(), a.out.c_str());
}

}  // namespace

void register_finetune(CLI::App& app) {
  auto a = std::make_shared<FinetuneArgs>();
  CLI::App* sub = app.add_subcommand(
      "finetune",
      "Fine-tune a model on question/answer pairs (JSONL {question, answer} or {prompt,\n"
      "completion}, chat text, or a `cpurich data world` directory: its train group). Only the\n"
      "answer tokens are graded. --method full trains every weight and writes a model\n"
      "directory; --method lora trains low-rank adapters on a frozen base and writes a PEFT\n"
      "adapter directory (adapter_config.json + adapter_model.safetensors); --method qlora\n"
      "does the same on a base held as NF4 (4.127 bits/weight), the adapter then applying to\n"
      "the f32 base as a QLoRA adapter does.");
  sub->add_option("--model", a->model, "Base model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--data", a->data, "Q/A file or world directory")
      ->required()
      ->check(CLI::ExistingPath);
  sub->add_option("--out", a->out, "Output directory")->required()->check(output_dir());
  sub->add_option("--method", a->method, "full, lora or qlora (default lora)")
      ->check(CLI::IsMember({"full", "lora", "qlora"}));
  sub->add_option("--init", a->init,
                  "qlora adapter init: plain (B = 0) or loftq (fit the NF4 error; default plain)")
      ->check(CLI::IsMember({"plain", "loftq"}));
  sub->add_option("--loftq-iters", a->o.qlora.loftq_iters,
                  "LoftQ alternations of quantize / rank-r SVD (default 1 with --init loftq)")
      ->check(CLI::Range(int64_t{1}, int64_t{100}));
  sub->add_option("--rank", a->o.lora.rank, "LoRA rank r (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--alpha", a->o.lora.alpha, "LoRA alpha: scale alpha / r (default 16)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--dropout", a->o.lora.dropout, "Dropout on the adapter input (default 0)")
      ->check(CLI::Range(0.0, 0.999));
  sub->add_option("--targets", a->o.lora.targets,
                  "PEFT target module names (default c_attn c_proj c_fc)")
      ->delimiter(',');
  sub->add_flag("--rslora", a->o.lora.rslora, "Scale alpha / sqrt(r) (rsLoRA)");
  sub->add_option("--lr", a->o.lr, "Peak learning rate (default 1e-4 full, 1e-3 lora)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--iters", a->o.iters, "Optimizer steps (default 200)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  sub->add_option("--batch", a->o.batch, "Examples per step (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--weight-decay", a->o.weight_decay, "AdamW weight decay (default 0)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--grad-clip", a->o.grad_clip, "Max global gradient norm (default 1, 0 = off)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", a->o.seed, "Seed: example order, adapter init, dropout");
  sub->add_option("--log-every", a->log_every, "Steps between log lines (default 10)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  sub->add_option("--save-every", a->save_every,
                  "Checkpoint into --out every N steps and at the end (default 0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_flag("--resume", a->resume,
                "Continue the run checkpointed in --out (same --model, --data and flags)");
  sub->add_flag("--json", a->json,
                "Print {method, iters, trainable_params, total_params, loss_before, loss_after, "
                "seconds, truncated, dropped}");
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_finetune(*a); });
}

void register_lora(CLI::App& app) {
  CLI::App* lora = app.add_subcommand("lora", "LoRA adapter tools");
  lora->require_subcommand(1);
  auto m = std::make_shared<MergeArgs>();
  CLI::App* merge = lora->add_subcommand(
      "merge", "Fold an adapter into its base: W' = W + scale * (B A)^T; writes a model directory");
  merge->add_option("--model", m->model, "Base model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->add_option("--adapter", m->adapter, "Adapter directory (PEFT layout)")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->add_option("--out", m->out, "Merged model directory")->required()->check(output_dir());
  merge->callback([m] { run_merge(*m); });
}

}  // namespace cpurich::cli
