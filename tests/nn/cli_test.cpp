// cli_test.cpp: `cpurich init` and `cpurich eval` end to end, run as the real
// program (built in the same build tree), including their error exits.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "nn/evaluate.h"
#include "nn/gpt.h"
#include "nn_test_util.h"
#include "tensor/ops.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::testing;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

// Runs the program with stdout+stderr to `out`; returns its exit code.
int run(const std::string& args, const std::string& out) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("cpurich init + eval --json agree with load_model + evaluate_ids", "[nn][cli]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  ScratchDir dir("cli");
  const std::string log = dir / "log.txt";
  REQUIRE(run("init --out " + (dir / "m") +
                  " --n-layer 1 --n-head 2 --n-embd 16 --block 8 "
                  "--vocab 20 --seed 3",
              log) == 0);
  GPT model = load_model(dir / "m");
  CHECK(model.config().n_embd == 16);
  CHECK(model.config().vocab_size == 20);
  CHECK(max_abs_diff(model.state_dict().at("h.0.mlp.c_fc.weight"),
                     GPT(model.config(), 3).state_dict().at("h.0.mlp.c_fc.weight")) == 0.0);

  write_file_atomic(dir / "ids.txt", std::string("1 5 19 0 3\n3 7 7 2 11 4 8 9 13\n"));
  REQUIRE(run("eval --model " + (dir / "m") + " --ids " + (dir / "ids.txt") + " --block 5 --json",
              log) == 0);
  const auto j = nlohmann::json::parse(read_file(log));
  const std::vector<int32_t> ids = {1, 5, 19, 0, 3, 3, 7, 7, 2, 11, 4, 8, 9, 13};
  const EvalResult r = evaluate_ids(model, ids, 5);
  CHECK(j.at("tokens") == 13);
  CHECK(j.at("loss").get<double>() == r.loss);  // same code, same bits
  CHECK(j.at("ppl").get<double>() == Approx(std::exp(r.loss)).epsilon(1e-12));

  write_file_atomic(dir / "bad.txt", std::string("1 2 20"));
  CHECK(run("eval --model " + (dir / "m") + " --ids " + (dir / "bad.txt"), log) == 1);
  CHECK_THAT(read_file(log), Catch::StartsWith("cpurich: error: ") &&
                                 Catch::Contains("token 2 (line 1) \"20\" is outside"));
  CHECK(run("eval --model " + (dir / "m") + " --ids " + (dir / "ids.txt") + " --block 9", log) ==
        1);
  CHECK_THAT(read_file(log), Catch::Contains("n_positions = 8"));
  CHECK(run("init --out " + (dir / "m2") + " --n-head 3", log) == 1);
  CHECK_THAT(read_file(log), Catch::Contains("divisible by n_head"));
  CHECK(run("eval --model " + (dir / "m"), log) == 1);
  CHECK_THAT(read_file(log), Catch::Contains("exactly one of --ids FILE or --text FILE"));
}
