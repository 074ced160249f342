// cmd_compare.cpp: `cpurich compare`: a model against quantized variants of
// it, one table (the measures are defined in infer/compare.h).
//
//   cpurich compare --model DIR --text FILE [--qa FILE] VARIANT_DIR... [--json]
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "infer/compare.h"
#include "tokenizer/tokenizer.h"
#include "train/sft_data.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

struct CompareArgs {
  std::string model, text, qa;
  std::vector<std::string> variants;
  CompareOptions o;
  int64_t qa_limit = 0;
  bool json = false;
  int threads = 0;
};

void run_compare(const CompareArgs& a) {
  apply_threads(a.threads);
  const auto tok = load_tokenizer_from_dir(a.model);
  const std::vector<int32_t> ids = tok->encode(read_text_input("--text", a.text));
  std::vector<QAItem> qa;
  if (!a.qa.empty())
    for (const QAPair& p : read_qa_source(a.qa)) {
      if (a.qa_limit > 0 && static_cast<int64_t>(qa.size()) >= a.qa_limit) break;
      qa.push_back({.prompt = sft_prompt(p.question), .answer = p.answer});
    }
  const auto rows = compare_models(a.model, a.variants, ids, qa, *tok, a.o);
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const VariantReport& r : rows) {
      nlohmann::json row = {{"variant", r.dir},
                            {"format", r.format},
                            {"bits_per_weight", r.bits_per_weight},
                            {"file_bytes", r.file_bytes},
                            {"size_ratio", r.size_ratio},
                            {"loss", r.loss},
                            {"loss_tokens", r.loss_tokens},
                            {"delta_loss_pct", r.delta_loss_pct},
                            {"kl_mean", r.kl.mean},
                            {"kl_p99", r.kl.p99},
                            {"same_top1", r.kl.same_top1},
                            {"kl_positions", r.kl.positions},
                            {"decode_tokens_per_s", r.decode_tokens_per_s},
                            {"decode_tokens", r.decode_tokens}};
      if (r.qa_n > 0) {
        row["qa_accuracy"] = r.qa_accuracy;
        row["qa_n"] = r.qa_n;
      }
      j.push_back(row);
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%-28s %-6s %7s %12s %7s %9s %8s %9s %9s %7s%s %8s\n", "variant", "format", "bits/w",
              "bytes", "x fp32", "loss", "dloss%", "KL mean", "KL p99", "top1%",
              qa.empty() ? "" : "    Q/A%", "tok/s");
  for (const VariantReport& r : rows) {
    char qa_col[32] = "";
    if (!qa.empty()) std::snprintf(qa_col, sizeof qa_col, " %7.1f", 100.0 * r.qa_accuracy);
    std::printf("%-28s %-6s %7.3f %12lld %7.3f %9.5f %+8.3f %9.2e %9.2e %7.2f%s %8.1f\n",
                r.dir.c_str(), r.format.c_str(), r.bits_per_weight,
                static_cast<long long>(r.file_bytes), r.size_ratio, r.loss, r.delta_loss_pct,
                r.kl.mean, r.kl.p99, 100.0 * r.kl.same_top1, qa_col, r.decode_tokens_per_s);
  }
  const VariantReport& first = rows.front();
  std::printf(
      "loss: %lld predictions (cpurich eval windows, dequantized weights); KL and top-1: %lld "
      "predictions (each variant's Decoder); Q/A: %zu questions; tok/s: %lld greedy decode "
      "steps\n",
      static_cast<long long>(first.loss_tokens), static_cast<long long>(first.kl.positions),
      qa.size(), static_cast<long long>(first.decode_tokens));
}

}  // namespace

void register_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Compare a model with quantized variants of it: bits/weight, file size, loss on a text\n"
      "and its change, KL(p_fp32 || p_variant) of the next-token distribution (mean, p99),\n"
      "same top-1 %, Q/A exact-match accuracy (--qa) and greedy decode tokens/s.");
  sub->add_option("--model", a->model, "The fp32 model directory (the reference)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--text", a->text, "Text file for loss and KL (the model's tokenizer)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--qa", a->qa, "Q/A JSONL file or `cpurich data world` directory")
      ->check(CLI::ExistingPath);
  sub->add_option("--qa-limit", a->qa_limit, "Use at most N Q/A pairs (0 = all)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("variants", a->variants, "Variant model directories")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--block", a->o.block, "Window size (default: n_positions)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--kl-tokens", a->o.kl_positions, "Predictions for KL / top-1 (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--decode-tokens", a->o.decode_tokens, "Greedy decode steps timed for tok/s")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_flag("--json", a->json, "Print one JSON array, a row per model");
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_compare(*a); });
}

}  // namespace cpurich::cli
