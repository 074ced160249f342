// bench/fwd_bwd.cpp: how fast is one training step's forward + backward?
//
// What it measures: the `tiny` GPT (4 layers, 4 heads, 128 dims, block 64,
// vocab 65: the character-level Shakespeare size) on a batch of 12 random
// sequences. After warm-up it times forward + loss + backward over several
// iterations (median ms/iter and tokens/s), then repeats a few iterations
// with the autograd profiler on to split the time by op class (matmul,
// attention, norms, other). In the same process it also times the same step
// on 1 thread, so the report shows the thread speed-up as a ratio, and the
// throughput as a ratio of the project's goal (17,000 tokens/s on 2 cores).
//
//   bench/fwd_bwd                       table
//   bench/fwd_bwd --iters 50 --json     one JSON object
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "autograd/profiler.h"
#include "nn/gpt.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

constexpr double kGoalTokensPerSecond = 17000.0;

struct Options {
  int64_t batch = 12;
  int64_t block = 64;
  int64_t vocab = 65;
  int iters = 20;
  int warmup = 3;
  int threads = 0;
  bool json = false;
};

struct Step {
  GPT model;
  std::vector<int32_t> ids, targets;
  int64_t B, T;
  /// One forward + backward; returns the loss.
  double run() {
    for (const auto& [name, p] : model.named_parameters()) p.zero_grad();
    const Var loss = model.loss(ids, targets, B, T, true);
    loss.backward();
    return loss.value().item();
  }
};

Step make_step(const Options& o) {
  GPTConfig cfg;  // tiny: 4 layers, 4 heads, 128 dims
  cfg.n_positions = o.block;
  cfg.vocab_size = o.vocab;
  Step s{GPT(cfg, 1337), {}, {}, o.batch, o.block};
  Rng rng(7);
  for (int64_t i = 0; i < o.batch * o.block; ++i) {
    s.ids.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(o.vocab))));
    s.targets.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(o.vocab))));
  }
  return s;
}

// Median seconds per step over `iters` timed steps, after `warmup` untimed ones.
double median_step_seconds(Step& s, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) s.run();
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    s.run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  const int threads = num_threads();
  Step s = make_step(o);
  const double tokens = static_cast<double>(o.batch * o.block);
  const double sec = median_step_seconds(s, o.warmup, o.iters);

  profiler_reset();
  profiler_enable(true);
  const int profiled = std::max(3, o.iters / 4);
  for (int i = 0; i < profiled; ++i) s.run();
  profiler_enable(false);
  const ProfilerTotals p = profiler_totals();

  double sec_1t = sec;
  if (threads > 1) {
    set_num_threads(1);
    sec_1t = median_step_seconds(s, 1, std::max(3, o.iters / 4));
    set_num_threads(threads);
  }

  double prof_total = 0;
  for (int c = 0; c < kNumOpClasses; ++c)
    prof_total += p.forward_seconds[c] + p.backward_seconds[c];
  nlohmann::json j = {{"batch", o.batch},
                      {"block", o.block},
                      {"vocab", o.vocab},
                      {"threads", threads},
                      {"ms_per_iter", sec * 1e3},
                      {"tokens_per_s", tokens / sec},
                      {"speedup_vs_1_thread", sec_1t / sec},
                      {"ratio_to_goal", tokens / sec / kGoalTokensPerSecond}};
  for (int c = 0; c < kNumOpClasses; ++c) {
    const std::string name = op_class_name(static_cast<OpClass>(c));
    j["ms_" + name] = (p.forward_seconds[c] + p.backward_seconds[c]) * 1e3 / profiled;
    j["share_" + name] = (p.forward_seconds[c] + p.backward_seconds[c]) / prof_total;
  }
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("tiny GPT forward+backward: B=%lld T=%lld vocab=%lld, %d thread(s), %d iters\n",
              static_cast<long long>(o.batch), static_cast<long long>(o.block),
              static_cast<long long>(o.vocab), threads, o.iters);
  std::printf(
      "  %.2f ms/iter  %.0f tokens/s  (%.2fx the 17,000 tokens/s goal, %.2fx vs 1 thread)\n",
      sec * 1e3, tokens / sec, tokens / sec / kGoalTokensPerSecond, sec_1t / sec);
  std::printf("time per op class, mean over %d profiled iterations (ms/iter):\n", profiled);
  for (int c = 0; c < kNumOpClasses; ++c) {
    const auto cls = static_cast<OpClass>(c);
    std::printf("  %-10s fwd %7.2f  bwd %7.2f  (%4.1f%%)\n", op_class_name(cls).c_str(),
                p.forward_seconds[c] * 1e3 / profiled, p.backward_seconds[c] * 1e3 / profiled,
                100.0 * (p.forward_seconds[c] + p.backward_seconds[c]) / prof_total);
  }
  std::printf("  (profiled time excludes the engine's own overhead: %.2f of %.2f ms/iter)\n",
              prof_total * 1e3 / profiled, sec * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Forward + backward time of the tiny GPT, split by op class"};
  Options o;
  app.add_option("--batch", o.batch, "Sequences per step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--block", o.block, "Tokens per sequence")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--vocab", o.vocab, "Vocabulary size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--iters", o.iters, "Timed iterations")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "Untimed iterations first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", o.threads, "Threads (default: CPURICH_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", o.json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
  try {
    init_threads_from_env();
    run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fwd_bwd: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
