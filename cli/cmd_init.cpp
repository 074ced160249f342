// cmd_init.cpp: `cpurich init`: a randomly initialised GPT-2 model directory
// (config.json + model.safetensors), the starting point of pretraining.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "nn/gpt.h"

namespace cpurich::cli {

namespace {

struct InitOptions {
  std::string out;
  GPTConfig config;  // defaults are the `tiny` size: 4 layers, 4 heads, 128 dims, block 64
  uint64_t seed = 1337;
  int threads = 0;
};

void run_init(const InitOptions& o) {
  apply_threads(o.threads);
  const GPT model(o.config, o.seed);
  save_model(model, o.out);
  std::printf("wrote %s: %lld layers, %lld heads, %lld dims, block %lld, vocab %lld, seed %llu\n",
              o.out.c_str(), static_cast<long long>(o.config.n_layer),
              static_cast<long long>(o.config.n_head), static_cast<long long>(o.config.n_embd),
              static_cast<long long>(o.config.n_positions),
              static_cast<long long>(o.config.vocab_size), static_cast<unsigned long long>(o.seed));
  std::printf("parameters: %lld total, %lld non-embedding\n",
              static_cast<long long>(model.num_parameters()),
              static_cast<long long>(model.num_parameters_non_embedding()));
}

}  // namespace

void register_init(CLI::App& app) {
  auto opts = std::make_shared<InitOptions>();
  CLI::App* sub = app.add_subcommand(
      "init",
      "Write a randomly initialised GPT-2 model directory (config.json + model.safetensors).\n"
      "Default size `tiny`: 4 layers, 4 heads, 128 dims, block 64, vocab 256. GPT-2 init:\n"
      "weights N(0, 0.02), residual projections N(0, 0.02/sqrt(2*n_layer)), biases 0.");
  sub->add_option("--out", opts->out, "Model directory to create (files are written atomically)")
      ->required()
      ->check(output_dir());
  sub->add_option("--n-layer", opts->config.n_layer, "Transformer blocks")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1024}));
  sub->add_option("--n-head", opts->config.n_head, "Attention heads (must divide --n-embd)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1024}));
  sub->add_option("--n-embd", opts->config.n_embd, "Embedding width C")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  sub->add_option("--block", opts->config.n_positions, "Context length (n_positions)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--vocab", opts->config.vocab_size, "Vocabulary size")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--seed", opts->seed, "Seed of the initial weights")->capture_default_str();
  add_threads_option(*sub, opts->threads);
  sub->callback([opts] { run_init(*opts); });
}

}  // namespace cpurich::cli
