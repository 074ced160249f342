// test_progress.cpp: the progress line's arithmetic: FLOPs per token for
// pretraining and fine-tuning, the smoothed speed, MFU, ETA and durations.
#include <catch2/catch.hpp>

#include "nn/gpt.h"
#include "train/progress.h"

using namespace cpurich;

TEST_CASE("training FLOPs per token: 6 per weight plus attention's 12 L C T", "[progress]") {
  const GPTConfig c{.n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 64, .vocab_size = 50};
  CHECK(training_flops_per_token(c, 1000, 64) == 6.0 * 1000 + 12.0 * 2 * 32 * 64);
}

TEST_CASE("fine-tuning FLOPs per token: 4 per weight, 2 more per trainable one", "[progress]") {
  // Full fine-tuning trains every weight: the same 6 N as pretraining's weight term.
  CHECK(finetune_flops_per_token(1000, 1000) == 6000.0);
  // LoRA: 990 frozen weights (forward + gradient to the input) and 10 trainable ones.
  CHECK(finetune_flops_per_token(1000, 10) == 4.0 * 1000 + 2.0 * 10);
}

TEST_CASE("progress meter: mean of the first steps, MFU against the peak, ETA", "[progress]") {
  // 100 steps in all; each step 1000 tokens. 6000 FLOPs a token, peak 1.2e7 FLOP/s.
  ProgressMeter m(100, 6000.0, 1.2e7);
  m.record(1000, 1.0);  // 1000 tok/s
  m.record(1000, 0.5);  // 2000 tok/s: the plain mean of the first steps is 1500
  CHECK(m.tokens_per_s() == Approx(1500.0));
  CHECK(m.mfu() == Approx(1500.0 * 6000.0 / 1.2e7));  // 0.75
  // 98 steps left at a mean 0.75 s each: 73.5 s, rounded to 1m14s.
  const std::string line = m.line(2, 1.5, 1e-3);
  CHECK_THAT(line, Catch::Contains("iter 2/100 | loss 1.5000 | lr 1.00e-03 | 1500 tok/s"));
  CHECK_THAT(line, Catch::Contains("MFU 75.0%"));
  CHECK_THAT(line, Catch::Contains("| ETA 1m14s"));
  // Without a measured peak the MFU column reads 0.
  CHECK(ProgressMeter(10, 6000.0, 0.0).mfu() == 0.0);
}

TEST_CASE("durations read as 45s, 3m07s, 1h02m", "[progress]") {
  CHECK(format_duration(45.2) == "45s");
  CHECK(format_duration(187.0) == "3m07s");
  CHECK(format_duration(3720.0) == "1h02m");
  CHECK(format_duration(-1.0) == "0s");
}
