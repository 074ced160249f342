// bench/finetune.cpp: fine-tuning throughput (tokens/s), trainable parameters
// and peak memory of full fine-tuning, LoRA and QLoRA on the `tiny` and
// `small` model shapes.
//
// What it measures: whole FineTuner steps (forward with the loss mask,
// backward, clipping, AdamW over the trainable tensors only) after a few
// warm-up steps, on synthetic examples of exactly block + 1 tokens (half
// prompt, half answer), so no padding is computed and full and LoRA see the
// same shapes. LoRA's backward skips dW for the frozen base (it still needs
// dX through it), and its optimizer touches only the adapters: the ratio of the
// two tokens/s is what freezing the base buys. QLoRA runs LoRA's step on an
// NF4 base decoded panel by panel inside the GEMMs (tensor/matmul_nf4.h):
// lora's and qlora's tokens/s compare the decoding's cost, their peak RSS
// the memory the f32 base took. Peak memory is the process's
// peak resident set (getrusage), so run one method per process to compare it:
//
//   bench_finetune [--config tiny|small] [--method full|lora|qlora] [--rank R]
//                  [--iters N] [--warmup N] [--threads T] [--json]
// prints {"config","method","threads","tokens_per_s","trainable_params","peak_rss_mb",
// "linear_base_mb"}; linear_base_mb is what the Linear weights hold after
// setup (f32, or NF4 for qlora). Peak RSS includes the f32 model that qlora
// quantizes at setup (it is built in f32 first, as a loaded model is).
#include "train/finetune.h"

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/gpt.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include "train/sft_data.h"
#include "train/train_config.h"

using namespace cpurich;

namespace {

constexpr int64_t kVocab = 1024;  // a BPE-sized vocabulary, as the world recipe uses

// n examples of block + 1 random ids each; the first half is the prompt.
SftData synthetic_examples(int64_t n, int64_t block, uint64_t seed) {
  Rng rng(seed);
  SftData data;
  data.block_size = block;
  for (int64_t i = 0; i < n; ++i) {
    SftExample e;
    for (int64_t t = 0; t <= block; ++t) e.ids.push_back(static_cast<int32_t>(rng.below(kVocab)));
    e.n_prompt = (block + 1) / 2;
    data.examples.push_back(std::move(e));
  }
  data.stats.pairs = n;
  return data;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = "tiny", method = "lora";
  int64_t rank = 8, iters = 0, warmup = 2;
  int threads = 0;
  bool json = false;
  CLI::App app{"Fine-tuning throughput of full fine-tuning, LoRA and QLoRA"};
  app.add_option("--config", config, "tiny or small")->check(CLI::IsMember({"tiny", "small"}));
  app.add_option("--method", method, "full, lora or qlora")
      ->check(CLI::IsMember({"full", "lora", "qlora"}));
  app.add_option("--rank", rank, "LoRA rank")->check(CLI::Range(1, 4096));
  app.add_option("--iters", iters, "Timed steps (default 20 tiny, 4 small)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "Untimed warm-up steps")->check(CLI::Range(0, 1000));
  app.add_option("--threads", threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_flag("--json", json, "One JSON object");
  CLI11_PARSE(app, argc, argv);
  try {
    init_threads_from_env();
    if (threads > 0) set_num_threads(threads);
    const TrainConfig tc = named_config(config);
    GPT model(GPTConfig{.n_layer = tc.n_layer,
                        .n_head = tc.n_head,
                        .n_embd = tc.n_embd,
                        .n_positions = tc.block_size,
                        .vocab_size = kVocab},
              1234);
    const SftData data = synthetic_examples(256, tc.block_size, 99);
    FinetuneOptions o{.method = finetune_method_from_name(method),
                      .lora = LoraOptions{.rank = rank},
                      .iters = warmup + (iters > 0 ? iters : (config == "tiny" ? 20 : 4)),
                      .batch = tc.batch_size};
    FineTuner ft(model, data, o);
    int64_t base_bytes = ft.qlora_stats().base_bytes;  // NF4 bytes (qlora)
    for (const auto& [name, lin] : model.linear_modules())
      if (lin->weight.defined()) base_bytes += 4 * lin->weight.value().numel();
    for (int64_t i = 0; i < warmup; ++i) ft.step();
    double seconds = 0.0;
    int64_t tokens = 0;
    while (ft.iter() < o.iters) {
      const FinetuneStep s = ft.step();
      seconds += s.seconds;
      tokens += s.tokens;
    }
    const nlohmann::json j = {{"config", config},
                              {"method", method},
                              {"threads", num_threads()},
                              {"tokens_per_s", static_cast<double>(tokens) / seconds},
                              {"trainable_params", ft.trainable_parameters()},
                              {"peak_rss_mb", peak_rss_mb()},
                              {"linear_base_mb", static_cast<double>(base_bytes) / 1e6}};
    if (json)
      std::printf("%s\n", j.dump().c_str());
    else
      std::printf(
          "%-5s %-4s %d threads: %8.0f tok/s, %lld trainable parameters, peak RSS %.0f MB\n",
          config.c_str(), method.c_str(), num_threads(), j["tokens_per_s"].get<double>(),
          static_cast<long long>(ft.trainable_parameters()), peak_rss_mb());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_finetune: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
