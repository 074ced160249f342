// test_disk_errors.cpp: a full disk (ENOSPC) or a read-only place (EROFS)
// striking any file of a checkpoint save, injected through util/file_util.h's
// test hook, leaves the previous checkpoint intact and loadable and fails
// with one error naming the path; a run directory has one writer at a time
// (util/dir_lock.h), and a writer killed with SIGKILL does not keep it locked.
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "reliability_util.h"
#include "tests/train/train_test_util.h"
#include "train/checkpoint.h"
#include "train/finetune.h"
#include "util/dir_lock.h"

using namespace cpurich;
using Catch::Matchers::Contains;
using cpurich::test::TempDir;
namespace fs = std::filesystem;

namespace {

// Disarms the hook whatever happens in the test.
struct InjectionGuard {
  ~InjectionGuard() { inject_write_failure(0, 0); }
};

}  // namespace

TEST_CASE("a checkpoint save failing at any of its writes leaves the previous one intact",
          "[reliability][enospc]") {
  const std::string text = test::tiny_corpus();
  InjectionGuard guard;
  // A save writes 5 files (config.json, model.safetensors, tokenizer.json,
  // optimizer.safetensors into the staging area, then train_state.json).
  for (int error : {ENOSPC, EROFS}) {
    for (int nth = 1; nth <= 5; ++nth) {
      INFO("errno " << error << ", write " << nth);
      TempDir dir("enospc");
      std::map<std::string, std::string> at5;
      Trainer t = test::tiny_trainer(text, dir.path());
      std::string message;
      try {
        t.run([&](const StepResult& r) {
          if (r.iter == 6)  // the step-5 checkpoint is on disk: keep its bytes
            for (const char* f : test::kCheckpointFiles) at5[f] = read_file(dir.file(f));
          if (r.iter == 10) inject_write_failure(nth, error);  // strikes the step-10 save
        });
      } catch (const std::runtime_error& e) {
        message = e.what();
      }
      inject_write_failure(0, 0);
      REQUIRE_FALSE(message.empty());
      CHECK_THAT(message, Contains("checkpoint of step 10 not saved: ") &&
                              Contains("cannot write " + dir.path().string() + "/"));
      CHECK_THAT(message, Contains(std::strerror(error)));
      CHECK_THAT(message, Contains(dir.path().string() + " still holds the last complete"));
      CHECK(message.find('\n') == std::string::npos);
      CHECK(load_train_state(dir.path()).iter == 5);
      for (const char* f : test::kCheckpointFiles) CHECK(read_file(dir.file(f)) == at5[f]);
      CHECK_FALSE(fs::exists(dir.file(".staging")));
      for (const auto& e : fs::directory_iterator(dir.path()))
        CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
      // And the run goes on from there once the disk has room again.
      Trainer resumed = Trainer::resume(
          dir.path(), text,
          TrainerOptions{.out_dir = dir.path(), .quiet = true, .measure_peak = false});
      CHECK(resumed.iter() == 5);
      resumed.run();
      CHECK(load_train_state(dir.path()).iter == 12);
    }
  }
}

TEST_CASE("a fine-tuning checkpoint failing to save leaves the previous one",
          "[reliability][enospc]") {
  InjectionGuard guard;
  const test::AlphabetTokenizer tok("### Human: Assistant:\nabcdefghijklmnopqrstuvwxyz?");
  const std::vector<QAPair> pairs = {
      {.question = "where is ann?", .answer = "ironvale", .group = "", .where = "1"},
      {.question = "what is cy?", .answer = "a baker", .group = "", .where = "2"}};
  const SftData data = build_sft_data(pairs, tok, 48);
  const GPTConfig gc{
      .n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 48, .vocab_size = tok.vocab_size()};
  const FinetuneOptions o{
      .method = FinetuneMethod::Lora, .lora = {.rank = 2}, .iters = 4, .batch = 2};
  // A save writes trainable.safetensors, optimizer.safetensors, finetune_state.json.
  for (int nth = 1; nth <= 3; ++nth) {
    INFO("write " << nth);
    TempDir dir("ft_enospc");
    GPT model(gc, 1);
    FineTuner ft(model, data, o);
    ft.step();
    ft.step();
    ft.save(dir.path(), {});
    const std::string state = read_file(dir.file("finetune_state.json"));
    const std::string weights = read_file(dir.file("trainable.safetensors"));
    ft.step();
    inject_write_failure(nth, ENOSPC);
    CHECK_THROWS_WITH(ft.save(dir.path(), {}),
                      Contains("checkpoint of step 3 not saved: ") &&
                          Contains("cannot write " + dir.path().string() + "/") &&
                          Contains("No space left on device"));
    inject_write_failure(0, 0);
    CHECK(read_file(dir.file("finetune_state.json")) == state);
    CHECK(read_file(dir.file("trainable.safetensors")) == weights);
    GPT again(gc, 1);
    FineTuner restored(again, data, o);
    restored.restore(dir.path());
    CHECK(restored.iter() == 2);
  }
}

TEST_CASE("a second writer of a run directory is refused and a killed one leaves no lock",
          "[reliability][lock]") {
  TempDir dir("lock");
  const std::string run = dir.file("run");
  {
    const DirLock first(run);
    CHECK_THROWS_WITH(DirLock(run), Contains(run + " is in use by another cpurich process (pid " +
                                             std::to_string(::getpid())));
    // The real program, pointed at the locked directory: one line, exit 1.
    write_file_atomic(dir.file("corpus.txt"), test::tiny_corpus());
    const int rc = test::run_cli("pretrain --corpus " + dir.file("corpus.txt") + " --out " + run +
                                     " --n-layer 1 --n-embd 16 --n-head 2 --block 8 --iters 2 "
                                     "--threads 1",
                                 dir.file("out"), dir.file("err"));
    const std::string err = read_file(dir.file("err"));
    CHECK(rc == 1);
    CHECK_THAT(err, Contains("cpurich: error: " + run + " is in use by another cpurich process"));
    CHECK(test::count_lines(err) == 1);
  }
  CHECK_NOTHROW(DirLock(run));  // released with its holder
  // A real run killed with SIGKILL while it holds the lock: the kernel drops its flock.
  const pid_t child = test::spawn_cli(
      {"pretrain", "--corpus", dir.file("corpus.txt"), "--out", dir.file("long"), "--n-layer", "1",
       "--n-embd", "16", "--n-head", "2", "--block", "8", "--iters", "1000000", "--threads", "1"});
  REQUIRE(child > 0);
  // It holds the lock before its first log line; wait for that line.
  for (int i = 0; i < 2000 && !fs::exists(dir.file("long/log.jsonl")); ++i) ::usleep(10000);
  bool refused = false;
  try {
    const DirLock probe(dir.file("long"));
  } catch (const std::runtime_error& e) {
    refused = std::string(e.what()).find("in use by another cpurich process (pid " +
                                         std::to_string(child)) != std::string::npos;
  }
  CHECK(refused);
  ::kill(child, SIGKILL);
  CHECK(test::wait_exit(child) == 128 + SIGKILL);
  CHECK_NOTHROW(DirLock(dir.file("long")));
}
