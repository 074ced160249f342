// `cpurich serve` as the real program: it prints its port, answers a
// completion with the exact text `cpurich sample` prints for the same seed
// (base and adapter, streamed and not), and exits cleanly on SIGTERM.
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "nn/gpt.h"
#include "nn/lora.h"
#include "nn/lora_io.h"
#include "tests/common/temp_dir.h"
#include "tokenizer/tokenizer_char.h"
#include "util/file_util.h"

using namespace cpurich;
using nlohmann::json;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

int run(const std::string& args, const std::string& out) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The concatenated text of an SSE completion stream.
std::string sse_text(const std::string& body) {
  std::string text;
  size_t pos = 0;
  while ((pos = body.find("data: {", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    text +=
        json::parse(body.substr(pos + 6, end - pos - 6))["choices"][0]["text"].get<std::string>();
    pos = end;
  }
  return text;
}

}  // namespace

TEST_CASE("cpurich serve: same text as cpurich sample, SIGTERM exits cleanly", "[serve][cli]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  test::TempDir dir("serve_cli");
  const std::string base = dir.file("base"), ad = dir.file("alice"), out = dir.file("out"),
                    err = dir.file("serve.err"), pidfile = dir.file("pid");
  const CharTokenizer tok = CharTokenizer::train("abcdefghijklmnopqrstuvwxyz .:#\nHA");
  const GPTConfig c{
      .n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 64, .vocab_size = tok.vocab_size()};
  GPT model(c, 3);
  save_model(model, base);
  save_tokenizer(tok, base + "/tokenizer.json");
  const LoraOptions lo{.rank = 2, .alpha = 4, .seed = 4};
  add_lora(model, lo);
  Rng rng(5);
  for (const auto& [name, lin] : model.linear_modules())
    if (lin->lora) lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 1.0));
  save_lora_adapter(model, lo, "base", ad);

  REQUIRE(
      std::system((kCli + " serve --model " + base + " --adapter alice=" + ad +
                   " --port 0 --threads 1 --grace-seconds 2 2> " + err + " & echo $! > " + pidfile)
                      .c_str()) == 0);
  const pid_t pid = std::stoi(read_file(pidfile));
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::smatch m;
    const std::string log = std::filesystem::exists(err) ? read_file(err) : "";
    if (std::regex_search(log, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/")))
      port = std::stoi(m[1]);
  }
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  for (const bool adapter : {false, true}) {
    REQUIRE(run("sample --model " + base + (adapter ? " --adapter " + ad : "") +
                    " --prompt 'ab cd' --max-new-tokens 30 --seed 9 --temperature 0.8 --json "
                    "--threads 1",
                out) == 0);
    const std::string want = json::parse(read_file(out))["text"];
    json req = {{"model", adapter ? "alice" : "base"},
                {"prompt", "ab cd"},
                {"max_tokens", 30},
                {"seed", 9},
                {"temperature", 0.8}};
    auto res = client.Post("/v1/completions", req.dump(), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(json::parse(res->body)["choices"][0]["text"] == want);
    req["stream"] = true;
    res = client.Post("/v1/completions", req.dump(), "application/json");
    REQUIRE(res);
    CHECK(sse_text(res->body) == want);
  }
  REQUIRE(kill(pid, SIGTERM) == 0);
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gone = kill(pid, 0) != 0;
  }
  CHECK(gone);
  CHECK(read_file(err).find("cpurich serve: stopped") != std::string::npos);
}
