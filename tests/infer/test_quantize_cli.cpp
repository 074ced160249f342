// test_quantize_cli.cpp: `cpurich quantize` and `cpurich compare` end to end,
// run as the real program on a tiny model trained by `cpurich pretrain`:
// q8_0 stays close to the fp32 model, q4_0 less so; eval and sample run on the
// quantized directories; bad input fails in one line.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/common/temp_dir.h"
#include "util/file_util.h"

using Catch::Matchers::Contains;
using cpurich::read_file;
using cpurich::write_file_atomic;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

// Runs the program with stdout to `out` and stderr to `err`; returns its exit code.
int run(const std::string& args, const std::string& out, const std::string& err) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2> " + err).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string corpus(int n) {
  const char* sentences[] = {"the cat sat on the mat. ", "a dog ran to the red door. ",
                             "my hat is on the cat. "};
  std::string s;
  for (int i = 0; i < n; ++i) s += sentences[(i * 7) % 3];
  return s;
}

}  // namespace

TEST_CASE("cpurich quantize + compare on a tiny trained model", "[cli][quantize]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  cpurich::test::TempDir dir("quant_cli");
  const std::string text = dir.file("corpus.txt"), val = dir.file("val.txt"),
                    run_dir = dir.file("run"), q8 = dir.file("q8"), q4 = dir.file("q4"),
                    out = dir.file("out"), err = dir.file("err");
  write_file_atomic(text, corpus(400));
  write_file_atomic(val, corpus(30));
  // n_embd 64: every matrix's input dimension (64, 256) is a multiple of 32.
  REQUIRE(run("pretrain --corpus " + text + " --out " + run_dir +
                  " --n-layer 1 --n-head 2 --n-embd 64 --block 32 --batch 8 --iters 150 "
                  "--eval-every 150 --seed 1 --threads 1",
              out, err) == 0);

  REQUIRE(run("quantize --model " + run_dir + " --format q8_0 --out " + q8, out, err) == 0);
  CHECK_THAT(read_file(out), Contains("to q8_0: 8.500 bits/weight"));
  REQUIRE(run("quantize --model " + run_dir + " --format q4_0 --out " + q4, out, err) == 0);
  CHECK_THAT(read_file(out), Contains("to q4_0: 4.500 bits/weight"));

  REQUIRE(run("compare --model " + run_dir + " --text " + val + " " + q8 + " " + q4 + " --json",
              out, err) == 0);
  INFO(read_file(out) << read_file(err));
  const auto j = nlohmann::json::parse(read_file(out));
  REQUIRE(j.size() == 3);
  const auto& fp = j[0];
  const auto& r8 = j[1];
  const auto& r4 = j[2];
  CHECK(fp.at("format") == "fp32");
  CHECK(r8.at("format") == "q8_0");
  CHECK(r4.at("format") == "q4_0");
  CHECK(r8.at("file_bytes").get<int64_t>() < fp.at("file_bytes").get<int64_t>() / 3);
  // q8_0 rounds each weight to 1/254 of its block's range: a trained model's
  // predictions barely move. Its loss changes by well under 1% and its top
  // token agrees with fp32 at >= 97% of positions (the rest are near-ties in
  // a corpus of three interleaved sentences). q4_0 (1/16 of the range) is
  // further off in KL at every quantile.
  CHECK(std::abs(r8.at("delta_loss_pct").get<double>()) < 1.0);
  CHECK(r8.at("same_top1").get<double>() >= 0.97);
  CHECK(r8.at("kl_mean").get<double>() < r4.at("kl_mean").get<double>());
  CHECK(r8.at("kl_p99").get<double>() < r4.at("kl_p99").get<double>());
  CHECK(r8.at("kl_positions").get<int64_t>() > 0);

  // eval on a quantized directory is the compare row's loss: the same code path.
  REQUIRE(run("eval --model " + q8 + " --text " + val + " --json", out, err) == 0);
  CHECK(nlohmann::json::parse(read_file(out)).at("loss") == r8.at("loss"));
  // Generation runs from the packed weights.
  REQUIRE(run("sample --model " + q4 + " --prompt \"the \" --max-new-tokens 8 --seed 1", out,
              err) == 0);
  CHECK(read_file(out).size() > 4);
  // The table names every variant.
  REQUIRE(run("compare --model " + run_dir + " --text " + val + " " + q4, out, err) == 0);
  CHECK_THAT(read_file(out), Contains("q4_0") && Contains("KL mean") && Contains("predictions"));

  // GPTQ and importance-weighted rounding read calibration text (here the
  // training text) and must fit the model better than plain rounding in the
  // same q4_0 layout: GPTQ compensates each rounding error with the columns
  // not yet quantized, so its next-token distributions stay closer to fp32.
  const std::string gq = dir.file("gptq"), iq = dir.file("imatrix");
  REQUIRE(run("quantize --model " + run_dir + " --format gptq4 --calib " + text + " --out " + gq,
              out, err) == 0);
  REQUIRE(run("quantize --model " + run_dir + " --format q4_0 --imatrix --calib " + text +
                  " --out " + iq,
              out, err) == 0);
  REQUIRE(run("compare --model " + run_dir + " --text " + val + " " + q4 + " " + gq + " " + iq +
                  " --json",
              out, err) == 0);
  const auto jg = nlohmann::json::parse(read_file(out));
  REQUIRE(jg.size() == 4);
  CHECK(jg[2].at("format") == "q4_0");
  CHECK(jg[2].at("kl_mean").get<double>() < jg[1].at("kl_mean").get<double>());
  CHECK(jg[3].at("kl_mean").get<double>() > 0.0);
  CHECK(run("quantize --model " + run_dir + " --format gptq4 --out " + dir.file("bad"), out, err) ==
        1);
  CHECK_THAT(read_file(err), Contains("need --calib FILE"));

  CHECK(run("quantize --model " + run_dir + " --format q3_k --out " + dir.file("bad"), out, err) ==
        1);
  CHECK_THAT(read_file(err),
             Contains("cpurich: error: --format: unknown quantization format 'q3_k'"));
  CHECK(run("quantize --model " + run_dir + " --format q8_0 --out " + run_dir, out, err) == 1);
  CHECK_THAT(read_file(err), Contains("--out must differ from --model"));
}
