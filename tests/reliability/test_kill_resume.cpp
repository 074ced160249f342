// test_kill_resume.cpp: the quick version of scripts/torture.sh. The real
// `cpurich pretrain` and `cpurich finetune`, checkpointing every 2 steps, are
// killed with SIGKILL at random moments (a seeded Rng: the same moments every
// run of the test), resumed each time, and must end with weights bitwise
// equal to an uninterrupted run of the same seed.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <random>

#include "reliability_util.h"

using namespace cpurich;
using cpurich::test::TempDir;
namespace fs = std::filesystem;

namespace {

// Runs `args` (+ "--resume" flags when `resume_args` applies) until it exits
// by itself, killing it `kills` times first, each after a random delay of 5 to
// 80 % of `full`, the measured wall time of an uninterrupted run: a fixed
// delay would miss on a machine fast enough to finish first. Before each
// start, a directory without a committed checkpoint is emptied (what a user
// does after a run killed before its first checkpoint). If the run finishes
// before its first kill, it starts over with half the delays. Returns the
// kills that hit a running process.
int run_with_kills(const std::vector<std::string>& fresh, const std::vector<std::string>& resume,
                   const std::string& out, const std::string& state_file, int kills,
                   std::chrono::microseconds full, std::mt19937& rng) {
  int hit = 0;
  for (int attempt = 0;; ++attempt) {
    const bool have_state = fs::exists(fs::path(out) / state_file);
    if (!have_state) fs::remove_all(out);
    const pid_t pid = test::spawn_cli(have_state ? resume : fresh);
    REQUIRE(pid > 0);
    if (attempt < kills) {
      const double share = std::uniform_real_distribution<double>(0.05, 0.8)(rng);
      ::usleep(static_cast<useconds_t>(share * static_cast<double>(full.count())));
      ::kill(pid, SIGKILL);
      const int rc = test::wait_exit(pid);
      if (rc == 128 + SIGKILL) {
        ++hit;
        continue;
      }
      REQUIRE(rc == 0);  // it finished before the kill
      if (hit > 0 || full.count() < 1000) return hit;
      // Not one kill landed (the machine got faster than when `full` was
      // measured): start over from nothing with half the delays.
      fs::remove_all(out);
      full /= 2;
      attempt = -1;
      continue;
    }
    REQUIRE(test::wait_exit(pid) == 0);
    return hit;
  }
}

}  // namespace

TEST_CASE("pretrain and finetune killed with SIGKILL and resumed end bitwise equal",
          "[reliability][kill]") {
  if (!fs::exists(test::kCli)) {
    WARN("cpurich not built, skipping: " << test::kCli);
    return;
  }
  TempDir dir("kill");
  // The corpus holds every character of the Q/A set and its chat template, so
  // the pretrained char tokenizer can encode the fine-tuning data.
  write_file_atomic(dir.file("corpus.txt"),
                    test::tiny_corpus(200) + "### Human: ### Assistant:\n" + test::kTinyQa);
  write_file_atomic(dir.file("qa.jsonl"), std::string(test::kTinyQa));
  std::mt19937 rng(12345);
  const std::vector<std::string> shape = {
      "--n-layer", "1",   "--n-embd", "32", "--n-head",     "2", "--block",      "96",
      "--batch",   "8",   "--iters",  "60", "--eval-every", "2", "--eval-iters", "1",
      "--dropout", "0.1", "--seed",   "3",  "--threads",    "1"};
  auto pretrain = [&](const std::string& out) {
    std::vector<std::string> a = {"pretrain", "--corpus", dir.file("corpus.txt"), "--out", out};
    a.insert(a.end(), shape.begin(), shape.end());
    return a;
  };
  const std::string ref = dir.file("ref"), run = dir.file("run");
  REQUIRE(test::wait_exit(test::spawn_cli(pretrain(ref))) == 0);
  // Timed on a second reference run into a fresh folder, once the first has
  // warmed the file cache.
  const auto timed = [](const std::vector<std::string>& args) {
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(test::wait_exit(test::spawn_cli(args)) == 0);
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 t0);
  };
  const auto pretrain_time = timed(pretrain(dir.file("ref_timed")));
  std::vector<std::string> resume = {"pretrain", "--corpus",  dir.file("corpus.txt"),
                                     "--out",    run,         "--resume",
                                     run,        "--threads", "1"};
  const int pre_kills =
      run_with_kills(pretrain(run), resume, run, "train_state.json", 3, pretrain_time, rng);
  CHECK(read_file(run + "/model.safetensors") == read_file(ref + "/model.safetensors"));

  auto finetune = [&](const std::string& out, bool resume_run) {
    std::vector<std::string> a = {"finetune",
                                  "--model",
                                  ref,
                                  "--data",
                                  dir.file("qa.jsonl"),
                                  "--out",
                                  out,
                                  "--method",
                                  "lora",
                                  "--rank",
                                  "2",
                                  "--dropout",
                                  "0.1",
                                  "--iters",
                                  "60",
                                  "--batch",
                                  "2",
                                  "--save-every",
                                  "2",
                                  "--seed",
                                  "4",
                                  "--threads",
                                  "1"};
    if (resume_run) a.push_back("--resume");
    return a;
  };
  const std::string ft_ref = dir.file("ft_ref"), ft_run = dir.file("ft_run");
  REQUIRE(test::wait_exit(test::spawn_cli(finetune(ft_ref, false))) == 0);
  const auto finetune_time = timed(finetune(dir.file("ft_ref_timed"), false));
  const int ft_kills = run_with_kills(finetune(ft_run, false), finetune(ft_run, true), ft_run,
                                      "finetune_state.json", 3, finetune_time, rng);
  CHECK(read_file(ft_run + "/adapter_model.safetensors") ==
        read_file(ft_ref + "/adapter_model.safetensors"));
  INFO("kills that hit a running process: pretrain " << pre_kills << ", finetune " << ft_kills);
  CHECK(pre_kills >= 1);
  CHECK(ft_kills >= 1);
}
