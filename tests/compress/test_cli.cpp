// test_cli.cpp: `cpurich prune` and `cpurich lowrank` end to end, and their
// one-line errors.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "../common/temp_dir.h"
#include "compress/model.h"
#include "tokenizer/tokenizer.h"
#include "util/file_util.h"

using namespace cpurich;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

int run(const std::string& args, const std::string& log) {
  const int status = std::system((kCli + " " + args + " > " + log + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("cpurich prune and lowrank write models, bad flags are one-line errors", "[cli]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  test::TempDir dir("compress_cli");
  const std::string log = dir.file("log.txt"), m = dir.file("m");
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the cat sat on the mat and the dog ran. ";
  write_file_atomic(dir.file("calib.txt"), text);
  std::filesystem::create_directories(m);
  REQUIRE(run("tokenizer train --corpus " + dir.file("calib.txt") + " --kind char --out " + m +
                  "/tokenizer.json",
              log) == 0);
  const int32_t vocab = load_tokenizer_from_dir(m)->vocab_size();
  REQUIRE(run("init --out " + m + " --n-layer 1 --n-head 2 --n-embd 32 --block 16 --vocab " +
                  std::to_string(vocab),
              log) == 0);

  REQUIRE(run("prune --model " + m + " --method sparsegpt --pattern 2:4 --calib " +
                  dir.file("calib.txt") + " --out " + dir.file("p"),
              log) == 0);
  CHECK(compress::linear_sparsity(load_model(dir.file("p"))) == 0.5);
  CHECK(std::filesystem::exists(dir.file("p/tokenizer.json")));
  REQUIRE(run("prune --model " + m + " --sparsity 0.25 --out " + dir.file("q"), log) == 0);
  CHECK(compress::linear_sparsity(load_model(dir.file("q"))) == 0.25);
  REQUIRE(run("lowrank --model " + m + " --rank 4 --out " + dir.file("r"), log) == 0);
  CHECK(load_model(dir.file("r")).config().n_embd == 32);

  // Our errors are one line "cpurich: error: ..."; CLI11's range checks
  // add a "Run with --help" hint.
  const auto fails_with = [&](const std::string& args, const std::string& msg) {
    CHECK(run(args, log) == 1);
    const std::string out = read_file(log);
    CHECK_THAT(out, Catch::Contains(msg));
    if (out.starts_with("cpurich: error: ")) CHECK(out.find('\n') == out.size() - 1);
  };
  fails_with("prune --model " + m + " --method random --out " + dir.file("x"),
             "magnitude, wanda or sparsegpt");
  fails_with("prune --model " + m + " --method wanda --out " + dir.file("x"), "needs --calib");
  CHECK_THAT(read_file(log), Catch::StartsWith("cpurich: error: "));
  fails_with("prune --model " + m + " --pattern 2:x --out " + dir.file("x"), "want N:M");
  fails_with("prune --model " + m + " --sparsity 1.5 --out " + dir.file("x"), "sparsity");
  fails_with("lowrank --model " + m + " --rank 0 --out " + dir.file("x"), "rank");
}
