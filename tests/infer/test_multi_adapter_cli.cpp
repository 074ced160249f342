// test_multi_adapter_cli.cpp: `cpurich sample` and `cpurich chat` with several
// --adapter NAME=DIR, run as the real program: --use picks the adapter and
// gives the merged path's greedy text, chat's "/use NAME" switches adapter
// mid-conversation, and unknown names or another base's adapter fail in one line.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nn/gpt.h"
#include "nn/lora.h"
#include "nn/lora_io.h"
#include "tests/common/temp_dir.h"
#include "tokenizer/tokenizer_char.h"
#include "util/file_util.h"

using namespace cpurich;
using Catch::Matchers::Contains;
using cpurich::test::TempDir;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

int run(const std::string& args, const std::string& out, const std::string& err) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2> " + err).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A GPT with large random weights (std 0.3) so greedy paths vary.
GPT wide_model(const GPTConfig& c, uint64_t seed) {
  GPT model(c, seed);
  Rng rng(seed + 1000);
  std::map<std::string, Tensor> sd;
  for (const auto& [name, t] : model.state_dict())
    sd[name] = name.find("ln_") != std::string::npos ? t : rng.normal(t.shape(), 0.0, 0.3);
  model.load_state_dict(sd);
  return model;
}

// Writes an adapter (random B) for the base of `seed` into dir.
void write_adapter(const GPTConfig& c, uint64_t seed, uint64_t lora_seed, const std::string& dir) {
  GPT m = wide_model(c, seed);
  const LoraOptions o{.rank = 2, .alpha = 4, .seed = lora_seed};
  add_lora(m, o);
  Rng rng(lora_seed + 5);
  for (const auto& [name, lin] : m.linear_modules())
    if (lin->lora) lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 0.5));
  save_lora_adapter(m, o, "toy", dir);
}

std::string text_of(const std::string& json_file) {
  return nlohmann::json::parse(read_file(json_file)).at("text");
}

}  // namespace

TEST_CASE("cpurich sample/chat with several --adapter NAME=DIR, --use and /use",
          "[infer][cli][lora]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  TempDir dir("multi_adapter_cli");
  const std::string base = dir.file("base"), out = dir.file("out"), err = dir.file("err"),
                    ad_a = dir.file("ad_a"), ad_b = dir.file("ad_b"), ad_x = dir.file("ad_x");
  const CharTokenizer tok =
      CharTokenizer::train("### Human: Assistant:\nabcdefghijklmnopqrstuvwxyz?.");
  const GPTConfig c{
      .n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 128, .vocab_size = tok.vocab_size()};
  save_model(wide_model(c, 3), base);
  save_tokenizer(tok, base + "/tokenizer.json");
  write_adapter(c, 3, 1, ad_a);
  write_adapter(c, 3, 2, ad_b);
  write_adapter(c, 4, 1, ad_x);  // for another base
  const std::string both = " --adapter a=" + ad_a + " --adapter b=" + ad_b;
  const std::string sample = "sample --model " + base +
                             " --prompt 'hello there' --temperature 0 --max-new-tokens 24 "
                             "--threads 1 --json";

  // Merged (a plain DIR, as before) and kept apart give the same greedy text.
  REQUIRE(run(sample + " --adapter " + ad_a, out, err) == 0);
  const std::string merged_a = text_of(out);
  CHECK_FALSE(nlohmann::json::parse(read_file(out)).contains("adapter"));
  REQUIRE(run(sample + " --adapter " + ad_b, out, err) == 0);
  const std::string merged_b = text_of(out);
  REQUIRE(run(sample + both + " --use a", out, err) == 0);
  CHECK(text_of(out) == merged_a);
  CHECK(nlohmann::json::parse(read_file(out)).at("adapter") == "a");
  REQUIRE(run(sample + both + " --use b", out, err) == 0);
  CHECK(text_of(out) == merged_b);
  REQUIRE(run(sample + both, out, err) == 0);  // default: the first adapter
  CHECK(text_of(out) == merged_a);
  REQUIRE(run(sample + both + " --use base", out, err) == 0);
  const std::string apart_base = text_of(out);
  REQUIRE(run(sample, out, err) == 0);
  CHECK(text_of(out) == apart_base);
  CHECK(merged_a != merged_b);  // the adapters matter (the test could fail)
  CHECK(merged_a != apart_base);

  // Bad names and another base's adapter: one line, exit 1.
  CHECK(run(sample + both + " --use zz", out, err) == 1);
  CHECK_THAT(read_file(err), Contains("unknown adapter 'zz'") && Contains("known: base, a, b"));
  CHECK(run(sample + both + " --adapter a=" + ad_b, out, err) == 1);
  CHECK_THAT(read_file(err), Contains("two adapters are named 'a'"));
  CHECK(run(sample + " --adapter base=" + ad_a, out, err) == 1);
  CHECK_THAT(read_file(err), Contains("reserved"));
  CHECK(run(sample + both + " --adapter x=" + ad_x, out, err) == 1);
  CHECK_THAT(read_file(err), Contains("trained on another base model"));
  const std::string one_line = read_file(err);
  CHECK(one_line.find('\n') == one_line.size() - 1);

  // Chat: "/use b" mid-conversation keeps the conversation, changes adapter.
  // --multiline: these random models may end a line at once; replies run to 10 tokens.
  const std::string chat = "chat --model " + base + both +
                           " --use a --temperature 0 --max-new-tokens 10 --multiline --threads 1";
  write_file_atomic(dir.file("one.txt"), std::string("hi\n"));
  write_file_atomic(dir.file("stay.txt"), std::string("hi\nhow are you\n"));
  write_file_atomic(dir.file("switch.txt"), std::string("hi\n/use b\nhow are you\n"));
  REQUIRE(run(chat + " < " + dir.file("one.txt"), out, err) == 0);
  const std::string first = read_file(out);
  REQUIRE(run(chat + " < " + dir.file("stay.txt"), out, err) == 0);
  const std::string stay = read_file(out);
  REQUIRE(run(chat + " < " + dir.file("switch.txt"), out, err) == 0);
  const std::string switched = read_file(out);
  CHECK_THAT(read_file(err), Contains("now using adapter 'b'") && Contains("2 turns"));
  CHECK(stay.rfind(first, 0) == 0);  // the first turn is a's in both
  CHECK(switched.rfind(first, 0) == 0);
  CHECK(switched != stay);  // the second turn is b's
  write_file_atomic(dir.file("bad.txt"), std::string("hi\n/use zz\n"));
  CHECK(run(chat + " < " + dir.file("bad.txt"), out, err) == 1);
  CHECK_THAT(read_file(err), Contains("unknown adapter 'zz'"));
  // A merged adapter cannot be switched.
  CHECK(run("chat --model " + base + " --adapter " + ad_a + " < " + dir.file("switch.txt"), out,
            err) == 1);
  CHECK_THAT(read_file(err), Contains("/use needs adapters kept apart"));
}
