// cmd_prune.cpp: `cpurich prune`: zero a fraction of every Linear's weights
// by magnitude, Wanda or SparseGPT (compress/prune.h) and save the model.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/compress_common.h"
#include "cli/flag_checks.h"
#include "compress/model.h"

namespace cpurich::cli {

namespace {

struct PruneArgs {
  std::string model;
  std::string method = "magnitude";
  double sparsity = 0.5;
  std::string pattern;
  std::string calib;
  int64_t block = 0;
  std::string out;
  int threads = 0;
};

void run_prune(const PruneArgs& a) {
  apply_threads(a.threads);
  refuse_output_over_model(a.model, a.out);
  compress::PruneOptions o{.method = compress::parse_prune_method(a.method),
                           .sparsity = a.sparsity};
  if (!a.pattern.empty()) compress::parse_prune_pattern(a.pattern, o);
  if (o.method != compress::PruneMethod::Magnitude && a.calib.empty())
    throw std::invalid_argument("prune: --method " + a.method + " needs --calib FILE");
  GPT model = load_model(a.model);
  compress::Calibration cal;
  const auto ids = calibration_ids(a.model, a.calib);
  if (!ids.empty())
    cal = compress::collect_calibration(model, ids,
                                        a.block > 0 ? a.block : model.config().n_positions);
  compress::prune_model(model, cal, o);
  save_compressed(model, a.model, a.out);
  std::printf("pruned %s: %.4f of the Linear weights are zero -> %s\n", a.method.c_str(),
              compress::linear_sparsity(model), a.out.c_str());
}

}  // namespace

void register_prune(CLI::App& app) {
  auto a = std::make_shared<PruneArgs>();
  CLI::App* sub = app.add_subcommand(
      "prune",
      "Zero weights of every Linear (c_attn, c_proj, c_fc), comparing weights within each output\n"
      "row: magnitude |W|, wanda |W| * ||X_col||, sparsegpt (OBS: prune and update the rest).\n"
      "wanda and sparsegpt read --calib text (the model's tokenizer) for their input statistics.");
  sub->add_option("--model", a->model, "Model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--method", a->method, "magnitude, wanda or sparsegpt")
      ->capture_default_str()
      ->check(parsed_by(compress::parse_prune_method));
  sub->add_option("--sparsity", a->sparsity, "Fraction of each row zeroed (unstructured)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  sub->add_option("--pattern", a->pattern, "N:M: zero N of every M consecutive inputs (2:4)")
      ->check(parsed_by([](const std::string& p) {
        compress::PruneOptions o;
        compress::parse_prune_pattern(p, o);
      }));
  sub->add_option("--calib", a->calib, "Calibration text file")->check(CLI::ExistingFile);
  sub->add_option("--block", a->block, "Calibration window (default n_positions)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--out", a->out, "Output model directory")->required()->check(output_dir());
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_prune(*a); });
}

}  // namespace cpurich::cli
