// bench/train.cpp: training throughput (tokens/s) of the `tiny` and `small`
// configs on random token data (vocab 65, like tinyshakespeare's characters).
//
// What it measures: whole optimizer steps (forward, backward, clipping,
// AdamW), after a few warm-up steps, excluding evaluation. The reference is
// the fp32 FMA peak of the same cores, measured in this process, giving
// MFU = training FLOPs/s / peak (see train/progress.h). PyTorch's rate for the
// same recipes is in docs/perf_notes.md.
//
//   bench_train [--config tiny|small] [--iters N] [--warmup N] [--threads T] [--json] [--profile]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/profiler.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"
#include "train/progress.h"
#include "train/trainer.h"

using namespace cpurich;

namespace {

struct Result {
  double tokens_per_s = 0.0, mfu = 0.0, pytorch_ratio = 0.0;
};

// PyTorch 1.13, same machine, 2 threads (see the header comment).
double pytorch_tokens_per_s(const std::string& config) {
  return config == "tiny" ? 11500.0 : 1700.0;
}

Result bench_config(const std::string& name, int iters, int warmup, double peak, bool profile) {
  TrainConfig cfg = named_config(name);
  cfg.eval_iters = 1;
  std::vector<char32_t> chars;
  for (char32_t c = 32; c < 32 + 65; ++c) chars.push_back(c);  // a 65-character vocabulary
  auto tok = std::make_unique<CharTokenizer>(chars);
  Rng rng(1234);
  std::vector<int32_t> ids(200000);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(65));
  Trainer t(cfg, std::move(tok), ids, 0,
            TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
  for (int i = 0; i < warmup; ++i) t.step();
  double seconds = 0.0;
  int64_t tokens = 0;
  for (int i = 0; i < iters; ++i) {
    const StepResult r = t.step();
    seconds += r.seconds;
    tokens += r.tokens;
  }
  if (profile) {  // extra steps with the op-class profiler on, after the timed ones
    profiler_reset();
    profiler_enable(true);
    double prof_seconds = 0.0;
    for (int i = 0; i < std::max(1, iters / 2); ++i) prof_seconds += t.step().seconds;
    profiler_enable(false);
    std::fprintf(stderr, "%s: %.0f ms/step while profiling\n%s", name.c_str(),
                 1e3 * prof_seconds / std::max(1, iters / 2), profiler_report().c_str());
  }
  Result res;
  res.tokens_per_s = static_cast<double>(tokens) / seconds;
  const double fpt =
      training_flops_per_token(t.model().config(), t.model().num_parameters(), cfg.block_size);
  res.mfu = peak > 0 ? fpt * res.tokens_per_s / peak : 0.0;
  res.pytorch_ratio = res.tokens_per_s / pytorch_tokens_per_s(name);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Training throughput of the tiny and small configs"};
  std::string config;
  int iters = 0, warmup = 2, threads = 2;
  bool json = false, profile = false;
  app.add_option("--config", config, "tiny or small (default: both)")
      ->check(CLI::IsMember({"tiny", "small"}));
  app.add_option("--iters", iters, "Timed steps (default 20 for tiny, 3 for small)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "Untimed warm-up steps")->check(CLI::Range(0, 1000));
  app.add_option("--threads", threads, "Threads")->check(CLI::Range(1, 1024));
  app.add_flag("--json", json, "One JSON object per config");
  app.add_flag("--profile", profile,
               "Then run iters/2 more steps with the op-class profiler (stderr)");
  CLI11_PARSE(app, argc, argv);
  try {
    set_num_threads(threads);
    const double peak = measure_peak_flops(threads);
    std::vector<std::string> configs = config.empty() ? std::vector<std::string>{"tiny", "small"}
                                                      : std::vector<std::string>{config};
    for (const auto& name : configs) {
      const int n = iters > 0 ? iters : (name == "tiny" ? 20 : 3);
      const Result r = bench_config(name, n, warmup, peak, profile);
      if (json) {
        std::printf("%s\n", nlohmann::json{{"config", name},
                                           {"threads", threads},
                                           {"tokens_per_s", r.tokens_per_s},
                                           {"mfu", r.mfu},
                                           {"vs_pytorch", r.pytorch_ratio}}
                                .dump()
                                .c_str());
      } else {
        std::printf(
            "%-5s %d threads: %9.0f tok/s | MFU %5.1f%% of %.0f GFLOP/s | %.2fx PyTorch 1.13 (%.0f "
            "tok/s)\n",
            name.c_str(), threads, r.tokens_per_s, 100.0 * r.mfu, peak / 1e9, r.pytorch_ratio,
            pytorch_tokens_per_s(name));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
