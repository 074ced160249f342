// cmd_sweep.cpp: `cpurich sweep`, a scaling-law sweep (train/sweep_plan.h, train/sweep_run.h).
//
//   cpurich sweep --corpus FILE --out DIR [--sizes N,... | --params-min A --params-max B
//                 --points K] [--tokens D,... | --tokens-per-param R | --flops C,...]
//                 [--isoflop C,...] [--threads N] [--dry-run | --plan | --only ID]
//   cpurich sweep --collect DIR... --out DIR
//
// Every run of the plan trains in DIR/runs/<id>/ and leaves a row in
// DIR/results.jsonl; rerunning the same command skips finished runs and resumes
// an interrupted one. --dry-run prints the plan with its FLOPs and a time
// estimate from a short measured FLOP/s probe. --plan prints one
// self-contained command per run (for GNU parallel, xargs -P or a Slurm array);
// --collect merges the rows of several sweep folders.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "tensor/threads.h"
#include "train/progress.h"
#include "train/sweep_plan.h"
#include "train/sweep_run.h"
#include "train/trainer.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

namespace fs = std::filesystem;

struct SweepArgs {
  std::string corpus, out, only;
  std::vector<std::string> collect;
  std::vector<double> sizes, tokens, flops, isoflop;
  double params_min = 3e3, params_max = 1.7e5, tokens_per_param = 20.0;
  int points = 7;
  SweepRecipe recipe;
  int threads = 0;
  bool dry_run = false, plan = false;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string list(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : ",") + num(x);
  return s;
}

SweepGrid make_grid(const SweepArgs& a) {
  return SweepGrid{
      .sizes = a.sizes.empty() ? log_spaced(a.params_min, a.params_max, a.points) : a.sizes,
      .tokens = a.tokens,
      .tokens_per_param = a.tokens_per_param,
      .flops = a.flops,
      .isoflop = a.isoflop,
      .min_steps = 20};
}

// The command that runs one plan entry on any machine: every choice spelled out.
std::string run_command(const SweepArgs& a, const std::string& id) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const SweepRecipe& r = a.recipe;
  std::string cmd = (ec ? std::string("cpurich") : exe.string()) + " sweep --corpus '" +
                    fs::absolute(a.corpus).string() + "' --out '" + fs::absolute(a.out).string() +
                    "' --sizes " + list(make_grid(a).sizes);
  if (!a.tokens.empty()) cmd += " --tokens " + list(a.tokens);
  if (!a.flops.empty()) cmd += " --flops " + list(a.flops);
  if (!a.isoflop.empty()) cmd += " --isoflop " + list(a.isoflop);
  cmd += " --tokens-per-param " + num(a.tokens_per_param) + " --block " +
         std::to_string(r.block_size) + " --batch " + std::to_string(r.batch_size) + " --lr-ref " +
         num(r.lr_ref) + " --max-epochs " + num(r.max_epochs) + " --eval-windows " +
         std::to_string(r.eval_windows) + " --seed " + std::to_string(r.seed) +
         " --threads 1 --only " + id;
  return cmd;
}

// FLOP/s of the training step for one shape: 1 warm-up step, then `steps` timed.
double probe_flops_per_s(const SweepContext& ctx, const SweepRun& run, int steps) {
  TrainConfig c = run.config;
  c.max_iters = steps + 1;
  c.warmup_iters = 0;
  Trainer t(c, tokenizer_from_json(ctx.tokenizer), ctx.ids, 0,
            TrainerOptions{.quiet = true, .measure_peak = false, .threads = ctx.threads});
  t.step();
  const double t0 = now_s();
  for (int i = 0; i < steps; ++i) t.step();
  const double s = now_s() - t0;
  const int64_t V = t.tokenizer().vocab_size();
  return exact_flops_per_token(run.shape, V, c.block_size) *
         static_cast<double>(steps * c.batch_size * c.block_size) / s;
}

double run_flops(const SweepRun& r, int64_t vocab) {
  return exact_flops_per_token(r.shape, vocab, r.config.block_size) * static_cast<double>(r.tokens);
}

void print_plan(const std::vector<SweepRun>& plan, const SweepContext& ctx, int64_t vocab,
                bool probe) {
  const int64_t T = ctx.recipe.block_size;
  const int64_t train_tokens = sweep_train_tokens(ctx);
  // Small GEMMs run further from peak than big ones: probe the smallest and the
  // largest model and interpolate the rate in log(params) for the others.
  double rate_lo = 0.0, rate_hi = 0.0, n_lo = 1.0, n_hi = 1.0;
  if (probe) {
    auto by_n = [&](const SweepRun& x, const SweepRun& y) {
      return params_total(x.shape, vocab, T) < params_total(y.shape, vocab, T);
    };
    const SweepRun& lo = *std::min_element(plan.begin(), plan.end(), by_n);
    const SweepRun& hi = *std::max_element(plan.begin(), plan.end(), by_n);
    rate_lo = probe_flops_per_s(ctx, lo, 3);
    rate_hi = probe_flops_per_s(ctx, hi, 3);
    n_lo = static_cast<double>(params_total(lo.shape, vocab, T));
    n_hi = static_cast<double>(params_total(hi.shape, vocab, T));
  }
  auto rate = [&](double n) {
    if (n_hi <= n_lo) return rate_hi;
    const double f = std::clamp(std::log(n / n_lo) / std::log(n_hi / n_lo), 0.0, 1.0);
    return std::exp(std::log(rate_lo) + f * (std::log(rate_hi) - std::log(rate_lo)));
  };
  std::printf("%-18s %3s %5s %9s %9s %10s %7s %6s %9s %9s %9s %8s\n", "id", "L", "C", "params",
              "non-emb", "tokens", "iters", "epochs", "lr", "6ND", "exact", "est");
  double total6 = 0.0, total_exact = 0.0, total_s = 0.0;
  for (const SweepRun& r : plan) {
    const double N = static_cast<double>(params_total(r.shape, vocab, T));
    const double f6 = 6.0 * N * static_cast<double>(r.tokens), fx = run_flops(r, vocab);
    const double s = probe ? fx / rate(N) : 0.0;
    total6 += f6;
    total_exact += fx;
    total_s += s;
    std::printf(
        "%-18s %3lld %5lld %9.0f %9lld %10lld %7lld %6.2f %9.2e %9.2e %9.2e %8s%s\n", r.id.c_str(),
        static_cast<long long>(r.shape.n_layer), static_cast<long long>(r.shape.n_embd), N,
        static_cast<long long>(params_non_embedding(r.shape)), static_cast<long long>(r.tokens),
        static_cast<long long>(r.config.max_iters),
        static_cast<double>(r.tokens) / static_cast<double>(train_tokens), r.config.learning_rate,
        f6, fx, probe ? format_duration(s).c_str() : "-", r.epoch_capped ? " (capped)" : "");
  }
  std::printf("%zu runs; training FLOPs 6ND %.3e, exact %.3e\n", plan.size(), total6, total_exact);
  if (probe)
    std::printf(
        "measured %.2f GFLOP/s (smallest model) .. %.2f GFLOP/s (largest) on %d thread(s): "
        "estimated %s of training\n",
        rate_lo / 1e9, rate_hi / 1e9, ctx.threads, format_duration(total_s).c_str());
}

void run_collect(const SweepArgs& a) {
  const auto rows = collect_sweep_rows(a.collect);
  if (rows.empty()) {
    std::string dirs;
    for (const std::string& d : a.collect) dirs += (dirs.empty() ? "" : ", ") + d;
    throw std::runtime_error("--collect: no finished runs (runs/*/result.json) in " + dirs);
  }
  fs::create_directories(a.out);
  const std::string path = (fs::path(a.out) / "results.jsonl").string();
  write_file_atomic(path, sweep_rows_to_jsonl(rows));
  std::printf("collected %zu rows from %zu folder(s) into %s\n", rows.size(), a.collect.size(),
              path.c_str());
}

void run_sweep(const SweepArgs& a) {
  if (!a.collect.empty()) return run_collect(a);
  if (a.corpus.empty()) throw std::runtime_error("--corpus is required (unless --collect)");
  apply_threads(a.threads);
  SweepContext ctx =
      make_sweep_context(read_text_input("--corpus", a.corpus),
                         fs::path(a.corpus).filename().string(), a.recipe, a.out, num_threads());
  const int64_t vocab = tokenizer_from_json(ctx.tokenizer)->vocab_size();
  std::vector<SweepRun> plan =
      make_sweep_plan(make_grid(a), a.recipe, vocab, sweep_train_tokens(ctx));
  if (a.plan) {
    for (const SweepRun& r : plan) std::printf("%s\n", run_command(a, r.id).c_str());
    return;
  }
  if (a.dry_run) return print_plan(plan, ctx, vocab, /*probe=*/true);
  if (!a.only.empty()) {
    auto it =
        std::find_if(plan.begin(), plan.end(), [&](const SweepRun& r) { return r.id == a.only; });
    if (it == plan.end()) throw std::runtime_error("no run " + a.only + " in this plan");
    plan = {*it};
  }
  fs::create_directories(a.out);
  nlohmann::json pj = {{"recipe", sweep_recipe_to_json(a.recipe)},
                       {"runs", nlohmann::json::array()}};
  for (const SweepRun& r : plan) pj["runs"].push_back(sweep_run_to_json(r));
  if (a.only.empty())
    write_file_atomic((fs::path(a.out) / "plan.json").string(), pj.dump(2) + "\n");

  double total = 0.0, done_flops = 0.0, spent_flops = 0.0;
  for (const SweepRun& r : plan) total += run_flops(r, vocab);
  install_sigint_handler();
  const bool tty = isatty(STDERR_FILENO) != 0;
  const double t0 = now_s();
  int done = 0, skipped = 0;
  for (const SweepRun& r : plan) {
    const double f = run_flops(r, vocab);
    if (finished_sweep_row(a.out, r.id)) {
      ++done;
      ++skipped;
      done_flops += f;
      std::fprintf(stderr, "[sweep] %s already finished, skipped\n", r.id.c_str());
      continue;
    }
    const double per_step = f / static_cast<double>(r.config.max_iters);
    int64_t last_iter = 0;
    auto row = train_sweep_run(ctx, r, [&](int64_t iter) {
      spent_flops += per_step * static_cast<double>(iter - last_iter);
      last_iter = iter;
      if (!tty && iter % std::max<int64_t>(1, r.config.max_iters / 4) != 0) return;
      const double el = now_s() - t0;
      const double left = total - done_flops - per_step * static_cast<double>(iter);
      const double eta = spent_flops > 0.0 ? left * el / spent_flops : 0.0;
      std::fprintf(stderr, "%s[sweep] runs %d/%zu done | %s step %lld/%lld | ETA %s%s",
                   tty ? "\r" : "", done, plan.size(), r.id.c_str(), static_cast<long long>(iter),
                   static_cast<long long>(r.config.max_iters), format_duration(eta).c_str(),
                   tty ? "\033[K" : "\n");
    });
    if (!row) {
      std::fprintf(stderr, "\n[sweep] stopped; rerun the same command to resume\n");
      return;
    }
    ++done;
    done_flops += f;
    std::fprintf(
        stderr, "%s[sweep] %s: params %lld, tokens %lld, val loss %.4f +- %.4f, %.1f s%s\n",
        tty ? "\r" : "", r.id.c_str(), static_cast<long long>((*row)["params"].get<int64_t>()),
        static_cast<long long>(r.tokens), (*row)["val_loss"].get<double>(),
        (*row)["val_loss_se"].get<double>(), (*row)["wall_seconds"].get<double>(),
        tty ? "\033[K" : "");
  }
  std::fprintf(stderr,
               "[sweep] %d/%zu runs finished (%d skipped as already done) in %s; rows in %s\n",
               done, plan.size(), skipped, format_duration(now_s() - t0).c_str(),
               (fs::path(a.out) / "results.jsonl").string().c_str());
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* sub = app.add_subcommand("sweep", "Scaling-law sweep: train a grid of model sizes");
  sub->add_option("--corpus", a->corpus, "Training text (UTF-8; character tokenizer)")
      ->check(CLI::ExistingFile);
  sub->add_option("--out", a->out, "Sweep folder: runs/<id>/, results.jsonl, plan.json")
      ->required()
      ->check(output_dir());
  sub->add_option("--sizes", a->sizes, "Non-embedding parameter targets (comma-separated)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  sub->add_option("--params-min", a->params_min, "Smallest size target (with --points)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--params-max", a->params_max, "Largest size target (with --points)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--points", a->points, "Sizes, evenly spaced in log")->check(CLI::Range(1, 64));
  sub->add_option("--tokens", a->tokens, "Token budgets: every size x every budget")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  sub->add_option("--tokens-per-param", a->tokens_per_param,
                  "Without --tokens/--flops: tokens = this x total params")
      ->check(CLI::PositiveNumber);
  sub->add_option("--flops", a->flops, "Per-run 6ND budgets: tokens = C / (6 N)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  sub->add_option("--isoflop", a->isoflop,
                  "IsoFLOP budgets: every size trained for C / (6 N) tokens")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  sub->add_option("--block", a->recipe.block_size, "Context length T")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--batch", a->recipe.batch_size, "Sequences per step")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--lr-ref", a->recipe.lr_ref, "Peak learning rate at width 128 (lr ~ 1/width)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-epochs", a->recipe.max_epochs, "Cap on passes over the training split")
      ->check(CLI::PositiveNumber);
  sub->add_option("--eval-windows", a->recipe.eval_windows,
                  "Held-out windows of T tokens for the final loss")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--seed", a->recipe.seed, "Seed of every run");
  sub->add_option("--only", a->only, "Run only this plan entry (what --plan's commands use)");
  sub->add_flag("--dry-run", a->dry_run, "Print the plan, its FLOPs and a time estimate");
  sub->add_flag("--plan", a->plan, "Print one self-contained command per run");
  sub->add_option("--collect", a->collect, "Merge the rows of these sweep folders into --out")
      ->check(CLI::ExistingDirectory);
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_sweep(*a); });
}

}  // namespace cpurich::cli
