// cmd_lowrank.cpp: `cpurich lowrank`: replace every Linear's weight by its
// best rank-r approximation (truncated SVD, compress/lowrank.h) and save.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/compress_common.h"
#include "cli/flag_checks.h"
#include "compress/model.h"

namespace cpurich::cli {

namespace {

struct LowrankArgs {
  std::string model;
  int64_t rank = 0;
  std::string out;
  int threads = 0;
};

void run_lowrank(const LowrankArgs& a) {
  apply_threads(a.threads);
  refuse_output_over_model(a.model, a.out);
  GPT model = load_model(a.model);
  compress::lowrank_model(model, a.rank);
  save_compressed(model, a.model, a.out);
  std::printf("rank %lld approximation of every Linear -> %s\n", static_cast<long long>(a.rank),
              a.out.c_str());
}

}  // namespace

void register_lowrank(CLI::App& app) {
  auto a = std::make_shared<LowrankArgs>();
  CLI::App* sub = app.add_subcommand(
      "lowrank",
      "Replace every Linear weight W by U_r S_r V_r^T, its best rank-r approximation\n"
      "(truncated SVD; stored dense, so the output is an ordinary model directory).");
  sub->add_option("--model", a->model, "Model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--rank", a->rank, "Rank r kept (>= 1)")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--out", a->out, "Output model directory")->required()->check(output_dir());
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_lowrank(*a); });
}

}  // namespace cpurich::cli
