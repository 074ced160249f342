// test_checkpoint_integrity.cpp: checkpoints carry a CRC-32 of every file
// (util/crc32.h, train/checkpoint_files.h): one flipped byte or a truncated
// file in any of them is refused with the file's path, never loaded; a save
// killed before its commit point leaves the previous checkpoint, one killed
// after it is finished on resume; a resumed fine-tuning run is bitwise the
// uninterrupted one.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "nn/lora.h"
#include "nn/safetensors.h"
#include "reliability_util.h"
#include "tensor/ops.h"
#include "tests/train/train_test_util.h"
#include "train/checkpoint.h"
#include "train/checkpoint_files.h"
#include "train/finetune.h"
#include "util/crc32.h"

using namespace cpurich;
using Catch::Matchers::Contains;
using cpurich::test::TempDir;
namespace fs = std::filesystem;

namespace {

void flip_byte(const std::string& path, size_t at) {
  std::string bytes = read_file(path);
  bytes[at % bytes.size()] ^= 0x10;
  write_file_atomic(path, bytes);
}

}  // namespace

TEST_CASE("crc32 gives the standard check value and continues across pieces",
          "[reliability][crc32]") {
  CHECK(crc32("123456789") == 0xCBF43926u);  // the check value every CRC-32 table lists
  CHECK(crc32("") == 0u);
  CHECK(crc32_update(crc32("12345"), "6789") == crc32("123456789"));
  // Every single-bit flip of a message changes its CRC.
  const std::string msg = "checkpoint bytes";
  for (size_t i = 0; i < msg.size() * 8; ++i) {
    std::string m = msg;
    m[i / 8] = static_cast<char>(m[i / 8] ^ (1 << (i % 8)));
    CHECK(crc32(m) != crc32(msg));
  }
}

TEST_CASE("a flipped byte or a truncated checkpoint file is refused by name",
          "[reliability][checksum]") {
  const std::string text = test::tiny_corpus();
  TempDir dir("ckpt_crc");
  TrainConfig c = test::tiny_train_config(5);
  test::tiny_trainer(text, dir.path(), c).run();
  REQUIRE(load_train_state(dir.path()).iter == 5);
  std::map<std::string, std::string> good;
  for (const char* f : test::kCheckpointFiles) good[f] = read_file(dir.file(f));
  const TrainerOptions quiet{.quiet = true, .measure_peak = false};
  for (const char* f : test::kCheckpointFiles) {
    const std::string path = dir.file(f);
    const std::string expect = "checkpoint " + path + ": checksum mismatch";
    for (size_t at : {size_t{0}, good[f].size() / 2, good[f].size() - 3}) {
      flip_byte(path, at);
      INFO(f << " byte " << at);
      CHECK_THROWS_WITH(load_train_state(dir.path()), Contains(expect));
      CHECK_THROWS_WITH(Trainer::resume(dir.path(), text, quiet), Contains(expect));
      write_file_atomic(path, good[f]);
    }
    write_file_atomic(path, good[f].substr(0, good[f].size() / 2));  // torn
    CHECK_THROWS_WITH(load_train_state(dir.path()), Contains(expect));
    write_file_atomic(path, good[f]);
  }
  CHECK(load_train_state(dir.path()).iter == 5);  // the restored files load again
  fs::remove(dir.file("model.safetensors"));
  CHECK_THROWS_WITH(load_train_state(dir.path()),
                    Contains("checkpoint " + dir.file("model.safetensors") + ": not found"));
}

TEST_CASE(
    "a save killed before its commit point leaves the previous checkpoint, one killed after "
    "it is finished on resume",
    "[reliability][journal]") {
  const std::string text = test::tiny_corpus();
  TempDir dir("ckpt_journal");
  Trainer t = test::tiny_trainer(text, dir.path());
  while (t.iter() < 5) t.step();
  t.save(dir.path());
  std::map<std::string, std::string> old;
  for (const char* f : test::kCheckpointFiles) old[f] = read_file(dir.file(f));
  while (t.iter() < 10) t.step();
  t.save(dir.path());
  std::map<std::string, std::string> fresh;
  for (const char* f : test::kCheckpointFiles) fresh[f] = read_file(dir.file(f));
  REQUIRE(fresh["model.safetensors"] != old["model.safetensors"]);
  const std::string staging = dir.file(".staging");

  SECTION("killed while staging: the new files are thrown away") {
    // What a kill during step 1 leaves: the old checkpoint plus a half-filled staging area.
    for (const char* f : test::kCheckpointFiles) write_file_atomic(dir.file(f), old[f]);
    fs::create_directories(staging);
    write_file_atomic(staging + "/model.safetensors", fresh["model.safetensors"].substr(0, 100));
    write_file_atomic(dir.file("optimizer.safetensors.tmp.99999"), "partial");
    CHECK(load_train_state(dir.path()).iter == 5);
    CHECK(read_file(dir.file("model.safetensors")) == old["model.safetensors"]);
    CHECK_FALSE(fs::exists(staging));
    t.save(dir.path());  // the next save sweeps the stray temporary file too
    CHECK_FALSE(fs::exists(dir.file("optimizer.safetensors.tmp.99999")));
  }
  SECTION("killed while moving the files in: resume rolls forward") {
    // What a kill during step 3 leaves: the new manifest, the weights still staged.
    fs::create_directories(staging);
    write_file_atomic(staging + "/model.safetensors", fresh["model.safetensors"]);
    write_file_atomic(staging + "/optimizer.safetensors", fresh["optimizer.safetensors"]);
    write_file_atomic(dir.file("model.safetensors"), old["model.safetensors"]);
    write_file_atomic(dir.file("optimizer.safetensors"), old["optimizer.safetensors"]);
    CHECK(load_train_state(dir.path()).iter == 10);
    CHECK(read_file(dir.file("model.safetensors")) == fresh["model.safetensors"]);
    CHECK(read_file(dir.file("optimizer.safetensors")) == fresh["optimizer.safetensors"]);
    CHECK_FALSE(fs::exists(staging));
  }
}

TEST_CASE("a torn last log line is dropped on resume", "[reliability][journal]") {
  TempDir dir("jsonl");
  write_file_atomic(dir.file("log.jsonl"),
                    std::string("{\"iter\":1}\n{\"iter\":2}\n{\"iter\":3}\n{\"iter\":4,\"lo"));
  truncate_jsonl(dir.file("log.jsonl"), 2);
  CHECK(read_file(dir.file("log.jsonl")) == "{\"iter\":1}\n{\"iter\":2}\n");
}

TEST_CASE("fine-tuning saved at step 4 and restored matches 9 straight steps bitwise",
          "[reliability][finetune]") {
  const std::string alphabet =
      "### Human: Assistant:\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ?,.";
  const test::AlphabetTokenizer tok(alphabet);
  const std::vector<QAPair> pairs = {
      {.question = "Where is Ann?", .answer = "Ironvale", .group = "", .where = "1"},
      {.question = "Where is Bob?", .answer = "Port Amberly", .group = "", .where = "2"},
      {.question = "What is Cy?", .answer = "a baker", .group = "", .where = "3"}};
  const SftData data = build_sft_data(pairs, tok, 48);
  GPTConfig gc{
      .n_layer = 1, .n_head = 2, .n_embd = 32, .n_positions = 48, .vocab_size = tok.vocab_size()};
  gc.dropout = 0.1;  // the model's dropout Rng must be restored too
  for (FinetuneMethod method : {FinetuneMethod::Full, FinetuneMethod::Lora}) {
    INFO("method " << static_cast<int>(method));
    // batch 2 of 3 examples: an epoch boundary falls inside a batch; LoRA dropout on.
    const FinetuneOptions o{.method = method,
                            .lora = {.rank = 2, .alpha = 4, .dropout = 0.2},
                            .iters = 9,
                            .lr = 3e-3,
                            .batch = 2,
                            .seed = 3};
    TempDir dir("ft_resume");
    std::vector<double> straight, resumed;
    std::map<std::string, Tensor> end_straight, end_resumed;
    {
      GPT model(gc, 5);
      FineTuner ft(model, data, o);
      while (ft.iter() < o.iters) {
        straight.push_back(ft.step().loss);
        if (ft.iter() == 4) ft.save(dir.path(), {{"tag", "run"}});
      }
      for (const auto& [n, t] : model.state_dict()) end_straight[n] = t.clone();
      for (const auto& [n, p] : lora_parameters(model)) end_straight[n] = p.value().clone();
    }
    GPT model(gc, 5);
    FineTuner ft(model, data, o);
    CHECK(ft.restore(dir.path()) == nlohmann::json{{"tag", "run"}});
    CHECK(ft.iter() == 4);
    resumed.assign(straight.begin(), straight.begin() + 4);
    while (ft.iter() < o.iters) resumed.push_back(ft.step().loss);
    for (const auto& [n, t] : model.state_dict()) end_resumed[n] = t.clone();
    for (const auto& [n, p] : lora_parameters(model)) end_resumed[n] = p.value().clone();
    CHECK(straight == resumed);  // exact, not approx
    REQUIRE(end_straight.size() == end_resumed.size());
    for (const auto& [n, t] : end_straight) {
      INFO(n);
      CHECK(max_abs_diff(t, end_resumed.at(n)) == 0.0);
    }
    // The fine-tuning checkpoint is guarded the same way.
    flip_byte(dir.file("trainable.safetensors"), 200);
    GPT again(gc, 5);
    FineTuner ft2(again, data, o);
    CHECK_THROWS_WITH(
        ft2.restore(dir.path()),
        Contains("checkpoint " + dir.file("trainable.safetensors") + ": checksum mismatch"));
  }
}
