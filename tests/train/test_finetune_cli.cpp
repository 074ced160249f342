// test_finetune_cli.cpp: `cpurich finetune`, `lora merge`, `qa-eval` and the
// --adapter flag of eval / sample, run as the real program: LoRA on a tiny
// random model lowers the loss on a tiny Q/A set, writes a PEFT adapter, the
// merged model samples exactly what `sample --adapter` samples, eval agrees,
// the base directory is untouched, and bad input fails in one line.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nn/gpt.h"
#include "tokenizer/tokenizer_char.h"
#include "train_test_util.h"
#include "util/file_util.h"

using namespace cpurich;
using Catch::Matchers::Contains;
using cpurich::test::TempDir;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

// Runs the program with stdout to `out` and stderr to `err`; returns its exit code.
int run(const std::string& args, const std::string& out, const std::string& err) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2> " + err).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* kQa =
    "{\"question\":\"Where was Ann Bo born?\",\"answer\":\"Ironvale\"}\n"
    "{\"question\":\"Where was Cy Du born?\",\"answer\":\"Port Amberly\"}\n"
    "{\"question\":\"What does Ann Bo do?\",\"answer\":\"baker\"}\n"
    "{\"question\":\"What does Cy Du do?\",\"answer\":\"pilot\"}\n";

}  // namespace

TEST_CASE("cpurich finetune --method lora, lora merge, sample/eval --adapter, qa-eval",
          "[finetune][cli]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  TempDir dir("ft_cli");
  const std::string base = dir.file("base"), qa = dir.file("qa.jsonl"), out = dir.file("out"),
                    err = dir.file("err"), ad = dir.file("adapter"), merged = dir.file("merged");
  write_file_atomic(qa, std::string(kQa));
  const CharTokenizer tok = CharTokenizer::train(
      "### Human: Assistant:\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ?.");
  const GPTConfig c{
      .n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 64, .vocab_size = tok.vocab_size()};
  save_model(test::wide_embedding_gpt(c, 11), base);
  save_tokenizer(tok, base + "/tokenizer.json");
  const std::string base_weights = read_file(base + "/model.safetensors");

  REQUIRE(run("finetune --model " + base + " --data " + qa + " --out " + ad +
                  " --method lora --rank 4 --alpha 8 --iters 40 --batch 4 --lr 3e-3 --seed 2 "
                  "--json --threads 1",
              out, err) == 0);
  const auto j = nlohmann::json::parse(read_file(out));
  INFO(read_file(err));
  CHECK(j.at("loss_after").get<double>() < 0.7 * j.at("loss_before").get<double>());
  CHECK(j.at("loss_after").get<double>() < std::log(static_cast<double>(tok.vocab_size())));
  CHECK(j.at("trainable_params") == 2 * 4 * ((32 + 96) + (32 + 32) + (32 + 128) + (128 + 32)));
  CHECK_THAT(read_file(err), Contains("trainable parameters of"));
  // Pretraining's progress line, with MFU and the time left.
  CHECK_THAT(read_file(err),
             Contains("iter 40/40 | loss ") && Contains(" tok/s | MFU ") && Contains("% | ETA 0s"));
  CHECK(std::filesystem::exists(ad + "/adapter_config.json"));
  CHECK(std::filesystem::exists(ad + "/adapter_model.safetensors"));
  CHECK(read_file(base + "/model.safetensors") == base_weights);  // the base is untouched

  REQUIRE(run("lora merge --model " + base + " --adapter " + ad + " --out " + merged, out, err) ==
          0);
  CHECK(std::filesystem::exists(merged + "/tokenizer.json"));

  const std::string sample_args = " --prompt-file " + dir.file("prompt.txt") +
                                  " --max-new-tokens 20 --seed 7 --json --threads 1";
  write_file_atomic(dir.file("prompt.txt"),
                    std::string("### Human: Where was Ann Bo born?\n### Assistant:"));
  REQUIRE(run("sample --model " + base + " --adapter " + ad + sample_args, out, err) == 0);
  const std::string with_adapter = nlohmann::json::parse(read_file(out)).at("text");
  REQUIRE(run("sample --model " + merged + sample_args, out, err) == 0);
  const std::string from_merged = nlohmann::json::parse(read_file(out)).at("text");
  CHECK(with_adapter == from_merged);
  REQUIRE(run("sample --model " + base + sample_args, out, err) == 0);
  CHECK(nlohmann::json::parse(read_file(out)).at("text") != with_adapter);

  const std::string text = "### Human: Where was Cy Du born?\n### Assistant: Port Amberly\n";
  write_file_atomic(dir.file("text.txt"), text);
  REQUIRE(run("eval --model " + base + " --adapter " + ad + " --text " + dir.file("text.txt") +
                  " --json",
              out, err) == 0);
  const double eval_adapter = nlohmann::json::parse(read_file(out)).at("loss");
  REQUIRE(run("eval --model " + merged + " --text " + dir.file("text.txt") + " --json", out, err) ==
          0);
  CHECK(nlohmann::json::parse(read_file(out)).at("loss").get<double>() ==
        Approx(eval_adapter).margin(1e-4));

  REQUIRE(run("qa-eval --model " + base + " --adapter " + ad + " --data " + qa + " --json --show 2",
              out, err) == 0);
  const auto q = nlohmann::json::parse(read_file(out));
  CHECK(q.at("n") == 4);
  CHECK(q.at("groups").at("qa").at("n") == 4);
  CHECK(q.at("examples").size() == 2);

  // Bad input: one line each, exit 1.
  write_file_atomic(dir.file("bad.jsonl"), std::string("{\"question\":\"Q?\"}\n"));
  CHECK(run("finetune --model " + base + " --data " + dir.file("bad.jsonl") + " --out " +
                dir.file("o2"),
            out, err) == 1);
  CHECK_THAT(read_file(err),
             Catch::StartsWith("cpurich: error: ") && Contains("bad.jsonl:1: needs"));
  CHECK(run("finetune --model " + base + " --data " + qa + " --out " + dir.file("o3") +
                " --targets c_q",
            out, err) == 1);
  CHECK_THAT(read_file(err), Contains("'c_q' matches no layer"));
  save_model(test::wide_embedding_gpt(c, 12), dir.file("other"));
  save_tokenizer(tok, dir.file("other") + "/tokenizer.json");
  CHECK(run("sample --model " + dir.file("other") + " --adapter " + ad + sample_args, out, err) ==
        1);
  CHECK_THAT(read_file(err), Contains("trained on another base model"));
}

TEST_CASE("cpurich finetune --method full writes a model directory that learnt",
          "[finetune][cli]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  TempDir dir("ft_cli_full");
  const std::string base = dir.file("base"), qa = dir.file("qa.jsonl"), out = dir.file("out"),
                    err = dir.file("err"), ft = dir.file("ft");
  write_file_atomic(qa, std::string(kQa));
  const CharTokenizer tok = CharTokenizer::train(
      "### Human: Assistant:\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ?.");
  const GPTConfig c{
      .n_layer = 1, .n_head = 2, .n_embd = 32, .n_positions = 64, .vocab_size = tok.vocab_size()};
  save_model(test::wide_embedding_gpt(c, 11), base);
  save_tokenizer(tok, base + "/tokenizer.json");
  REQUIRE(run("finetune --model " + base + " --data " + qa + " --out " + ft +
                  " --method full --iters 30 --batch 4 --lr 3e-3 --json --threads 1",
              out, err) == 0);
  const auto j = nlohmann::json::parse(read_file(out));
  CHECK(j.at("loss_after").get<double>() < 0.7 * j.at("loss_before").get<double>());
  CHECK(j.at("trainable_params") == j.at("total_params"));
  const GPT m = load_model(ft);
  CHECK(m.config().n_embd == 32);
  CHECK(std::filesystem::exists(ft + "/tokenizer.json"));
  CHECK(std::filesystem::exists(ft + "/finetune_log.jsonl"));
  CHECK(run("finetune --model " + base + " --data " + qa + " --out " + base + " --method full", out,
            err) == 1);
  CHECK_THAT(read_file(err), Contains("is the base model directory"));
  // A second run into the same directory is refused.
  CHECK(run("finetune --model " + base + " --data " + qa + " --out " + ft + " --method full", out,
            err) == 1);
  CHECK_THAT(read_file(err), Contains("already holds a fine-tuning run"));
}

TEST_CASE("cpurich finetune --method qlora (plain and LoftQ) writes an adapter the f32 base loads",
          "[finetune][cli][qlora]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  TempDir dir("ft_cli_qlora");
  const std::string base = dir.file("base"), qa = dir.file("qa.jsonl"), out = dir.file("out"),
                    err = dir.file("err"), ad = dir.file("adapter"), ad2 = dir.file("adapter2"),
                    merged = dir.file("merged");
  write_file_atomic(qa, std::string(kQa));
  const CharTokenizer tok = CharTokenizer::train(
      "### Human: Assistant:\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ?.");
  const GPTConfig c{// n_embd a multiple of NF4's block of 64
                    .n_layer = 1,
                    .n_head = 2,
                    .n_embd = 64,
                    .n_positions = 64,
                    .vocab_size = tok.vocab_size()};
  save_model(test::wide_embedding_gpt(c, 11), base);
  save_tokenizer(tok, base + "/tokenizer.json");
  const std::string base_weights = read_file(base + "/model.safetensors");

  REQUIRE(run("finetune --model " + base + " --data " + qa + " --out " + ad +
                  " --method qlora --rank 4 --alpha 8 --iters 30 --batch 4 --lr 3e-3 --seed 2 "
                  "--json --threads 1",
              out, err) == 0);
  const auto j = nlohmann::json::parse(read_file(out));
  INFO(read_file(err));
  CHECK(j.at("loss_after").get<double>() < 0.8 * j.at("loss_before").get<double>());
  CHECK(j.at("trainable_params") == 4 * ((64 + 192) + (64 + 64) + (64 + 256) + (256 + 64)));
  // 4.127 bits per weight: 64*(192+64+256) + 256*64 = 49152 weights.
  CHECK(j.at("base_nf4_bytes").get<int64_t>() < 49152 * 4.2 / 8);
  CHECK_THAT(read_file(err), Contains("base weights as NF4"));
  const auto cfg = nlohmann::json::parse(read_file(ad + "/adapter_config.json"));
  CHECK(cfg.at("cpurich").at("trained_against") == "nf4");
  CHECK(read_file(base + "/model.safetensors") == base_weights);

  // The adapter applies to the f32 base: merge and eval load it.
  REQUIRE(run("lora merge --model " + base + " --adapter " + ad + " --out " + merged, out, err) ==
          0);
  write_file_atomic(dir.file("text.txt"),
                    std::string("### Human: Where was Cy Du born?\n### Assistant: Port Amberly\n"));
  REQUIRE(run("eval --model " + base + " --adapter " + ad + " --text " + dir.file("text.txt") +
                  " --json",
              out, err) == 0);
  CHECK(std::isfinite(nlohmann::json::parse(read_file(out)).at("loss").get<double>()));

  // LoftQ starts closer to the f32 base than plain QLoRA does.
  REQUIRE(run("finetune --model " + base + " --data " + qa + " --out " + ad2 +
                  " --method qlora --init loftq --loftq-iters 2 --rank 4 --alpha 8 --iters 2 "
                  "--batch 4 --seed 2 --json --threads 1",
              out, err) == 0);
  const auto j2 = nlohmann::json::parse(read_file(out));
  CHECK(j2.at("init_error").get<double>() < j.at("init_error").get<double>());
  CHECK(j2.at("weight_norm").get<double>() == j.at("weight_norm").get<double>());
  CHECK(nlohmann::json::parse(read_file(ad2 + "/adapter_config.json")).at("init_lora_weights") ==
        "loftq");
  CHECK(run("finetune --model " + base + " --data " + qa + " --out " + dir.file("o4") +
                " --method lora --init loftq",
            out, err) == 1);
  CHECK_THAT(read_file(err), Contains("--method qlora only"));
}
