// reliability_util.h: what the reliability tests share: a tiny training run
// that checkpoints every few steps, a tiny fine-tuning set, and the real
// `cpurich` program run in a child process (to kill it, or read its one line).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tokenizer/tokenizer_char.h"
#include "train/sft_data.h"
#include "train/trainer.h"
#include "util/file_util.h"

extern char** environ;

namespace cpurich::test {

/// The five files of a pretraining checkpoint (train/checkpoint.h).
inline constexpr const char* kCheckpointFiles[] = {"train_state.json", "model.safetensors",
                                                   "optimizer.safetensors", "config.json",
                                                   "tokenizer.json"};

inline const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

/// "the cat sat on the mat. " n times, plus a tail so the alphabet is richer.
inline std::string tiny_corpus(int n = 40) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "the cat sat on the mat. ";
  return s + "a dog ran by.";
}

/// 1 layer, 32 dims, a checkpoint every 5 steps; dropout on, so resuming must
/// restore the dropout Rng too.
inline TrainConfig tiny_train_config(int64_t iters = 12) {
  TrainConfig c;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_embd = 32;
  c.block_size = 16;
  c.batch_size = 4;
  c.dropout = 0.1;
  c.max_iters = iters;
  c.warmup_iters = 2;
  c.learning_rate = 1e-2;
  c.min_lr = 1e-3;
  c.eval_every = 5;
  c.eval_iters = 1;
  c.log_every = 1;
  c.seed = 7;
  return c;
}

inline Trainer tiny_trainer(const std::string& text, const std::string& out,
                            const TrainConfig& c = tiny_train_config()) {
  auto tok = std::make_unique<CharTokenizer>(CharTokenizer::train(text));
  const auto ids = tok->encode(text);
  return Trainer(c, std::move(tok), ids, fnv1a64(text),
                 TrainerOptions{.out_dir = out, .quiet = true, .measure_peak = false});
}

/// Four Q/A pairs in the JSONL `cpurich finetune` reads.
inline const char* kTinyQa =
    "{\"question\":\"Where was Ann born?\",\"answer\":\"Ironvale\"}\n"
    "{\"question\":\"Where was Cy born?\",\"answer\":\"Port Amberly\"}\n"
    "{\"question\":\"What does Ann do?\",\"answer\":\"baker\"}\n"
    "{\"question\":\"What does Cy do?\",\"answer\":\"pilot\"}\n";

/// Runs `cpurich ARGS` through the shell, stdout/stderr to files; returns its exit code.
inline int run_cli(const std::string& args, const std::string& out, const std::string& err) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2> " + err).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Starts `cpurich ARGS...` with stdout and stderr to /dev/null; returns its pid.
inline pid_t spawn_cli(const std::vector<std::string>& args) {
  std::vector<std::string> all = {kCli};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, kCli.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

/// Waits for pid; its exit code, or 128 + signal.
inline int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The number of lines of a file (the one-line error rule).
inline int count_lines(const std::string& text) {
  int n = 0;
  for (char ch : text) n += ch == '\n';
  return n;
}

}  // namespace cpurich::test
