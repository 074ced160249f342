// test_memory_check.cpp: a model, batch or context that cannot fit in memory
// is refused before anything is allocated (nn/memory_estimate.h): the
// parameter formula against a built GPT, the refusal's numbers, and the real
// program's pretrain / finetune / sample / serve given a 200-layer, 65536-wide
// config: exit 1 within seconds, one line with the size needed and available.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "nn/gpt.h"
#include "nn/memory_estimate.h"
#include "reliability_util.h"
#include "util/mem_available.h"

using namespace cpurich;
using Catch::Matchers::Contains;
using cpurich::test::TempDir;

TEST_CASE("the parameter formula counts a built GPT exactly", "[reliability][memory]") {
  for (const GPTConfig c :
       {GPTConfig{.n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 8, .vocab_size = 30},
        GPTConfig{.n_layer = 3, .n_head = 4, .n_embd = 64, .n_positions = 32, .vocab_size = 100}})
    CHECK(gpt_parameter_count(c) == static_cast<double>(GPT(c, 1).num_parameters()));
}

TEST_CASE("an estimate above the available memory is refused with both sizes",
          "[reliability][memory]") {
  const GPTConfig c{.n_layer = 2, .n_head = 2, .n_embd = 64, .n_positions = 32, .vocab_size = 50};
  const MemoryEstimate t = training_memory(c, gpt_parameter_count(c), 4, 32);
  CHECK(t.weights == 4.0 * gpt_parameter_count(c));
  CHECK(t.optimizer == 12.0 * gpt_parameter_count(c));
  CHECK(t.activations > 0.0);
  CHECK_NOTHROW(check_fits_in_memory(t, static_cast<int64_t>(t.total()) + 1, "x"));
  CHECK_THROWS_WITH(check_fits_in_memory(t, 1000000, "training this model"),
                    Contains("training this model needs about 0.00 GB") &&
                        Contains("but only 0.00 GB is available"));
  CHECK(available_memory_bytes() > 0);
  // Generation: the KV cache grows with the sequences and the context.
  CHECK(inference_memory(c, 8, 32).activations == 8.0 * inference_memory(c, 1, 32).activations);
}

TEST_CASE("pretrain, finetune, sample and serve refuse a huge config up front",
          "[reliability][memory][cli]") {
  TempDir dir("huge");
  write_file_atomic(dir.file("corpus.txt"), test::tiny_corpus());
  write_file_atomic(dir.file("qa.jsonl"), std::string(test::kTinyQa));
  // A model directory whose config.json asks for 200 layers of width 65536
  // (about 10^13 parameters); no weights file at all: the refusal comes first.
  const GPTConfig huge{
      .n_layer = 200, .n_head = 8, .n_embd = 65536, .n_positions = 1024, .vocab_size = 50257};
  std::filesystem::create_directories(dir.file("huge"));
  write_file_atomic(dir.file("huge/config.json"), config_to_json(huge).dump(2));
  const std::string base = "--threads 1 ";
  const std::vector<std::string> commands = {
      "pretrain --corpus " + dir.file("corpus.txt") + " --out " + dir.file("out") +
          " --n-embd 65536 --n-layer 200 --n-head 8 ",
      "finetune --model " + dir.file("huge") + " --data " + dir.file("qa.jsonl") + " --out " +
          dir.file("ft") + " ",
      "sample --model " + dir.file("huge") + " --prompt hi ",
      "serve --model " + dir.file("huge") + " --port 0 "};
  for (const std::string& cmd : commands) {
    INFO(cmd);
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = test::run_cli(cmd + base, dir.file("o"), dir.file("e"));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string err = read_file(dir.file("e"));
    CHECK(rc == 1);
    CHECK_THAT(err, Contains("cpurich: error: ") && Contains(" needs about ") &&
                        Contains(" GB is available"));
    CHECK(test::count_lines(err) == 1);
    CHECK(s < 20.0);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("out")));  // nothing written
  CHECK_FALSE(std::filesystem::exists(dir.file("ft")));
}
