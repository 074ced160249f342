// nonfinite_test.cpp: weights that load must be finite. A NaN or Inf in a
// model directory or a checkpoint is refused with one line naming the file
// and the tensor; LoadOptions::allow_nonfinite (and the CLI's
// --allow-nonfinite) loads it anyway, value and all.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "nn/gpt.h"
#include "nn/load_options.h"
#include "nn/safetensors.h"
#include "nn_test_util.h"
#include "train/checkpoint.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::testing;
using Catch::Matchers::Contains;

namespace {

// Saves `model` to dir, then rewrites model.safetensors with element `i` of
// tensor `name` set to `value`.
void save_poisoned(const GPT& model, const std::string& dir, const std::string& name, int64_t i,
                   float value) {
  save_model(model, dir);
  std::map<std::string, Tensor> tensors = model.state_dict();
  Tensor t = tensors.at(name).clone();
  t.data_f32()[i] = value;
  tensors[name] = t;
  write_safetensors(dir + "/model.safetensors", tensors);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a NaN weight in a model directory is refused naming the tensor", "[nn][nonfinite]") {
  ScratchDir dir("nonfinite_model");
  const GPT model(toy_config(1), 5);
  save_poisoned(model, dir / "m", "h.0.attn.c_proj.weight", 13,
                std::numeric_limits<float>::quiet_NaN());
  const std::string err = error_of([&] { (void)load_model(dir / "m"); });
  CHECK_THAT(err, Contains(dir / "m/model.safetensors") &&
                      Contains("tensor 'h.0.attn.c_proj.weight' holds nan at element 13") &&
                      Contains("--allow-nonfinite"));
  CHECK(err.find('\n') == std::string::npos);

  // The opt-out loads the file as it is, NaN included.
  const GPT loaded = load_model(dir / "m", LoadOptions{.allow_nonfinite = true});
  const Tensor w = loaded.state_dict().at("h.0.attn.c_proj.weight").contiguous();
  CHECK(std::isnan(w.data_f32()[13]));
  CHECK(std::isfinite(w.data_f32()[12]));

  // The process-wide default (what --allow-nonfinite sets) is the options' default.
  set_nonfinite_allowed_by_default(true);
  CHECK_NOTHROW(load_model(dir / "m"));
  set_nonfinite_allowed_by_default(false);
  CHECK_THROWS(load_model(dir / "m"));
}

TEST_CASE("an Inf in a checkpoint's weights or moments is refused naming the tensor",
          "[nn][nonfinite]") {
  ScratchDir dir("nonfinite_ckpt");
  const GPT model(toy_config(1), 6);
  save_poisoned(model, dir.str(), "wpe.weight", 4, -std::numeric_limits<float>::infinity());
  CHECK_THAT(error_of([&] { (void)load_checkpoint_weights(dir.str()); }),
             Contains("model.safetensors: tensor 'wpe.weight' holds -inf at element 4"));
  CHECK(load_checkpoint_weights(dir.str(), {.allow_nonfinite = true}).at("wpe.weight").numel() ==
        6 * 8);

  write_safetensors(
      dir / "optimizer.safetensors",
      {{"m.wte.weight", Tensor::full({2, 2}, std::numeric_limits<float>::infinity())}});
  CHECK_THAT(error_of([&] { (void)load_checkpoint_optimizer(dir.str()); }),
             Contains("optimizer.safetensors: tensor 'm.wte.weight' holds inf at element 0"));
  CHECK_NOTHROW(load_checkpoint_optimizer(dir.str(), {.allow_nonfinite = true}));
}

TEST_CASE("cpurich eval refuses a NaN weight unless --allow-nonfinite", "[nn][nonfinite][cli]") {
  const std::string cli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";
  if (!std::filesystem::exists(cli)) {
    WARN("cpurich not built, skipping: " << cli);
    return;
  }
  ScratchDir dir("nonfinite_cli");
  // The NaN sits in the embedding of position 5, which a 4-token window never
  // reads, so with the flag the evaluation runs and its loss stays finite.
  const GPT model(toy_config(1), 7);
  save_poisoned(model, dir / "m", "wpe.weight", 5 * 8 + 2, std::numeric_limits<float>::quiet_NaN());
  write_file_atomic(dir / "ids.txt", std::string("1 5 10 0 3 2 7\n"));
  const auto run = [&](const std::string& flags) {
    const std::string cmd = cli + " eval --model " + (dir / "m") + " --ids " + (dir / "ids.txt") +
                            " --block 4 --json " + flags + " > " + (dir / "log.txt") + " 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  CHECK(run("") == 1);
  CHECK_THAT(
      read_file(dir / "log.txt"),
      Contains("cpurich: error: ") && Contains("tensor 'wpe.weight' holds nan at element 42"));
  REQUIRE(run("--allow-nonfinite") == 0);
  CHECK(std::isfinite(nlohmann::json::parse(read_file(dir / "log.txt")).at("loss").get<double>()));
}
