// cmd_eval.cpp: `cpurich eval`: mean next-token cross-entropy and perplexity
// of a model on a token stream (windowing defined in nn/evaluate.h).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "nn/evaluate.h"
#include "nn/gpt.h"
#include "nn/lora_io.h"
#include "tokenizer/tokenizer.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

struct EvalOptions {
  std::string model;
  std::string adapter;
  std::string ids;
  std::string text;
  int64_t block = 0;
  int64_t batch = 8;
  bool json = false;
  int threads = 0;
};

void run_eval(const EvalOptions& o) {
  apply_threads(o.threads);
  if (o.ids.empty() == o.text.empty())
    throw std::invalid_argument("eval: give exactly one of --ids FILE or --text FILE");
  GPT model = load_model(o.model);
  if (!o.adapter.empty()) load_lora_adapter(model, o.adapter);  // evaluated unmerged
  std::vector<int32_t> ids;
  if (!o.text.empty()) {
    // The model directory's own tokenizer, so ids mean what they meant in training.
    const auto tokenizer = load_tokenizer_from_dir(o.model);
    ids = tokenizer->encode(read_text_input("--text", o.text));
  } else {
    ids = parse_token_ids(read_text_input("--ids", o.ids), model.config().vocab_size, o.ids);
  }
  const EvalResult r = evaluate_ids(model, ids, o.block, o.batch);
  if (o.json) {
    const nlohmann::json j = {{"loss", r.loss}, {"ppl", r.ppl}, {"tokens", r.tokens}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("loss %.6f nats/token  perplexity %.4f  (%lld predictions)\n", r.loss, r.ppl,
                static_cast<long long>(r.tokens));
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto opts = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand(
      "eval",
      "Mean next-token cross-entropy (nats) and perplexity = exp(loss) of a model on token ids.\n"
      "With ids x0..x_{n-1} and block b (default n_positions; must be <= n_positions), window w\n"
      "is x[w*b .. w*b+b] (b+1 ids; neighbouring windows share one id; the last may be shorter).\n"
      "Each window predicts its ids after the first from the ids before them within the window,\n"
      "so every id after x0 is predicted exactly once with at most b ids of context. The loss is\n"
      "the mean over those n-1 predictions (each window weighted by its number of predictions).");
  sub->add_option("--model", opts->model, "Model directory (config.json + model.safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--adapter", opts->adapter, "LoRA adapter directory (PEFT layout) on the model")
      ->check(CLI::ExistingDirectory);
  CLI::Option* ids =
      sub->add_option("--ids", opts->ids, "File of whitespace-separated token ids (at least 2)")
          ->check(CLI::ExistingFile);
  CLI::Option* text = sub->add_option("--text", opts->text,
                                      "Text file, encoded with the model directory's tokenizer")
                          ->check(CLI::ExistingFile);
  ids->excludes(text);
  sub->add_option("--block", opts->block, "Window size b (default: the model's n_positions)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--batch", opts->batch, "Windows per forward pass (speed only)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_flag("--json", opts->json,
                "Print {\"loss\":..,\"ppl\":..,\"tokens\":..} (tokens = n-1)");
  add_threads_option(*sub, opts->threads);
  sub->callback([opts] { run_eval(*opts); });
}

}  // namespace cpurich::cli
