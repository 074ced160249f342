// test_sweep.cpp: the scaling-law sweep (train/sweep_plan.h, train/sweep_run.h,
// `cpurich sweep`): the FLOP counter against a hand count, the parameter
// formula against a built GPT, the size rule's span, the held-out loss and its
// standard error, and, with the real program, a 3-run micro-sweep that is
// killed mid-run and resumed without redoing finished runs, and --plan +
// --collect giving the same rows as one sweep.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../common/temp_dir.h"
#include "nn/gpt.h"
#include "train/sweep_plan.h"
#include "train/sweep_run.h"
#include "train/world.h"
#include "util/file_util.h"

using namespace cpurich;
using cpurich::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

int run(const std::string& args, const std::string& out, const std::string& err) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2> " + err).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<nlohmann::json> read_rows(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// A row without the fields that describe the machine or the process, not the run.
nlohmann::json run_fields(nlohmann::json row) {
  row.erase("wall_seconds");
  row.erase("threads");
  row.erase("resumed_from_step");
  return row;
}

// The micro-sweep: 3 sizes, 240 steps each (seconds per run on one thread).
const char* kGrid = " --sizes 3000,7000,13000 --tokens 245760 --eval-windows 32 --threads 1";

}  // namespace

TEST_CASE("exact training FLOPs match a hand count", "[sweep]") {
  // L = 1, C = 8 (2 heads of 4), T = 4, V = 10. Forward, per token:
  //   c_attn 2*8*24 = 384, attn.c_proj 2*8*8 = 128, c_fc 2*8*32 = 512,
  //   mlp.c_proj 2*32*8 = 512                                   -> 1536
  //   attention: per sequence and head, q.k over 1+2+3+4 = 10 pairs of 4
  //   dims = 80 FLOPs, p.v the same: 2 heads * 160 = 320 per 4 tokens -> 80
  //   head: 2*8*10                                              -> 160
  // forward 1776 FLOPs; backward twice that: 3 * 1776 = 5328 per token.
  const SweepShape s{.n_layer = 1, .n_head = 2, .n_embd = 8};
  CHECK(exact_flops_per_token(s, 10, 4) == 5328.0);
  // Two layers double the block terms only: 3 * (2 * (1536 + 80) + 160) = 10176.
  CHECK(exact_flops_per_token(SweepShape{.n_layer = 2, .n_head = 2, .n_embd = 8}, 10, 4) ==
        10176.0);
}

TEST_CASE("parameter formulas match a built GPT", "[sweep]") {
  for (const SweepShape s : {SweepShape{.n_layer = 1, .n_head = 2, .n_embd = 16},
                             SweepShape{.n_layer = 3, .n_head = 5, .n_embd = 40}}) {
    GPT g(GPTConfig{.n_layer = s.n_layer,
                    .n_head = s.n_head,
                    .n_embd = s.n_embd,
                    .n_positions = 32,
                    .vocab_size = 50},
          1);
    CHECK(params_total(s, 50, 32) == g.num_parameters());
    CHECK(params_non_embedding(s) == g.num_parameters_non_embedding());
  }
}

TEST_CASE("size rule: shapes grow with the target and the default grid spans 30x", "[sweep]") {
  const auto sizes = log_spaced(3e3, 1.7e5, 7);
  REQUIRE(sizes.size() == 7);
  CHECK(sizes.front() == Approx(3e3));
  CHECK(sizes.back() == Approx(1.7e5));
  int64_t prev = 0;
  for (double n : sizes) {
    const SweepShape s = shape_for_params(n);
    CHECK(s.n_embd % s.n_head == 0);
    const int64_t p = params_non_embedding(s);
    CHECK(p > prev);  // distinct, increasing models
    CHECK(std::abs(std::log(static_cast<double>(p) / n)) < std::log(2.0));  // near the target
    prev = p;
  }
  const SweepRecipe r;
  const auto plan = make_sweep_plan(SweepGrid{.sizes = sizes}, r, 80, 1'000'000);
  REQUIRE(plan.size() == 7);
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& run : plan) {
    const int64_t p = params_total(run.shape, 80, r.block_size);
    lo = std::min(lo, p);
    hi = std::max(hi, p);
    // the recipe's rules: warmup <= 5%, cosine to the run's end, <= 4 epochs
    CHECK(run.config.warmup_iters <= run.config.max_iters / 20);
    CHECK(static_cast<double>(run.tokens) <= 4.0 * 1'000'000 + 1);
    CHECK(run.tokens == run.config.max_iters * r.batch_size * r.block_size);
  }
  CHECK(static_cast<double>(hi) / static_cast<double>(lo) >= 30.0);
}

TEST_CASE("IsoFLOP plan: every run of a budget spends it", "[sweep]") {
  const SweepRecipe r;
  const auto plan = make_sweep_plan(
      SweepGrid{.sizes = log_spaced(3e3, 5e4, 5), .isoflop = {1e11, 4e11}}, r, 80, 2'000'000);
  REQUIRE(plan.size() >= 6);
  for (const auto& run : plan) {
    REQUIRE(run.budget.has_value());
    const double six_nd = 6.0 * static_cast<double>(params_total(run.shape, 80, r.block_size)) *
                          static_cast<double>(run.tokens);
    // D is rounded to whole steps of B*T tokens, and at least 20 steps are run
    CHECK(std::abs(six_nd / *run.budget - 1.0) < 0.1);
  }
}

TEST_CASE("held-out loss: fixed windows, standard error of their mean", "[sweep]") {
  GPT g(GPTConfig{.n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 8, .vocab_size = 12}, 3);
  std::vector<int32_t> val(8 * 10 + 1);
  for (std::size_t i = 0; i < val.size(); ++i) val[i] = static_cast<int32_t>((i * 7) % 12);
  const HeldOutLoss a = held_out_loss(g, val, 8, 100);
  CHECK(a.windows == 10);  // only 10 windows of 9 tokens (stride 8) fit in 81 tokens
  CHECK(std::abs(a.mean - std::log(12.0)) < 0.5);  // an untrained model is near uniform
  CHECK(a.se > 0.0);
  CHECK(a.se < 0.1);
  const HeldOutLoss b = held_out_loss(g, val, 8, 100);
  CHECK(a.mean == b.mean);  // the same slice every time
  CHECK_THROWS_AS(held_out_loss(g, std::span<const int32_t>(val).first(5), 8, 4),
                  std::invalid_argument);
}

TEST_CASE("cpurich sweep: a killed micro-sweep resumes and --plan with --collect equals one sweep",
          "[sweep][cli]") {
  if (!fs::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  TempDir dir("sweep_cli");
  const std::string corpus = dir.file("corpus.txt"), out = dir.file("out"), err = dir.file("err");
  write_file_atomic(corpus, world::generate_world(world::WorldOptions{.people = 120}).corpus);

  // One uninterrupted sweep: the reference rows.
  const std::string ref = dir.file("ref");
  REQUIRE(run("sweep --corpus " + corpus + " --out " + ref + kGrid, out, err) == 0);
  const auto ref_rows = read_rows(ref + "/results.jsonl");
  REQUIRE(ref_rows.size() == 3);
  for (const auto& r : ref_rows) {
    CHECK(r["val_loss"].get<double>() < std::log(r["vocab"].get<double>()));
    CHECK(r["val_loss_se"].get<double>() > 0.0);
    CHECK(r["val_loss_se"].get<double>() < 0.05);
    CHECK(r["flops_exact"].get<double>() > 0.9 * r["flops_6nd_non_embedding"].get<double>());
  }

  // The same sweep, killed (SIGKILL: no chance to save) while its second run trains.
  const std::string res = dir.file("resumed");
  const std::string second = res + "/runs/" + ref_rows[1]["id"].get<std::string>();
  const std::string cmd = "exec " + kCli + " sweep --corpus " + corpus + " --out " + res + kGrid +
                          " > " + out + " 2> " + err;
  pid_t pid = 0;
  const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
  REQUIRE(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
  bool killed = false;
  for (int i = 0; i < 60000 && !killed; ++i) {
    if (fs::exists(second + "/train_state.json") && !fs::exists(second + "/result.json")) {
      kill(pid, SIGKILL);
      killed = true;
    }
    int status = 0;
    if (!killed && waitpid(pid, &status, WNOHANG) == pid) break;  // finished before we could
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(killed);
  REQUIRE(fs::exists(res + "/runs/" + ref_rows[0]["id"].get<std::string>() + "/result.json"));
  REQUIRE_FALSE(fs::exists(second + "/result.json"));

  const std::string first_row =
      read_file(res + "/runs/" + ref_rows[0]["id"].get<std::string>() + "/result.json");
  REQUIRE(run("sweep --corpus " + corpus + " --out " + res + kGrid, out, err) == 0);
  const std::string log = read_file(err);
  CHECK(log.find(ref_rows[0]["id"].get<std::string>() + " already finished, skipped") !=
        std::string::npos);
  const auto rows = read_rows(res + "/results.jsonl");
  REQUIRE(rows.size() == 3);
  // never redone: its row is byte for byte the one the killed process wrote
  CHECK(read_file(res + "/runs/" + ref_rows[0]["id"].get<std::string>() + "/result.json") ==
        first_row);
  CHECK(rows[1]["resumed_from_step"].get<int64_t>() > 0);
  for (std::size_t i = 0; i < 3; ++i) CHECK(run_fields(rows[i]) == run_fields(ref_rows[i]));

  // --plan: one command per run; run each into its own folder ("machine"), then --collect.
  REQUIRE(run("sweep --corpus " + corpus + " --out " + dir.file("planned") + kGrid + " --plan", out,
              err) == 0);
  std::istringstream plan(read_file(out));
  std::string line;
  std::vector<std::string> machines;
  while (std::getline(plan, line)) {
    if (line.empty()) continue;
    const std::string m = dir.file("machine" + std::to_string(machines.size()));
    const auto at = line.find(dir.file("planned"));
    REQUIRE(at != std::string::npos);
    line.replace(at, dir.file("planned").size(), m);
    CHECK(line.find("--only ") != std::string::npos);
    REQUIRE(std::system((line + " > " + out + " 2> " + err).c_str()) == 0);
    machines.push_back(m);
  }
  REQUIRE(machines.size() == 3);
  std::string collect = "sweep --out " + dir.file("merged") + " --collect";
  for (const auto& m : machines) collect += " " + m;
  REQUIRE(run(collect, out, err) == 0);
  const auto merged = read_rows(dir.file("merged") + "/results.jsonl");
  REQUIRE(merged.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(run_fields(merged[i]) == run_fields(ref_rows[i]));
}
