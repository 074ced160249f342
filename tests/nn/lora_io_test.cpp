// lora_io_test.cpp: PEFT adapter directories: names, shapes and config keys
// as PEFT writes them, a save/load round trip that reproduces the logits,
// the base-checksum refusal, and malformed adapters rejected in one line.
#include "nn/lora_io.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "nn/gpt.h"
#include "nn/lora.h"
#include "nn/safetensors.h"
#include "nn_test_util.h"
#include "tensor/ops.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::testing;
using Catch::Matchers::Contains;

namespace {

const std::vector<int32_t> kIds = {1, 6, 2, 0, 3, 3, 5, 4, 10, 9, 8, 7};

// A base (seed 7), an adapter on it with random B, saved to dir/ad.
struct Fixture {
  GPT base = GPT(toy_config(2), 7);
  LoraOptions opts{
      .rank = 2, .alpha = 4, .dropout = 0.05, .targets = {"c_attn", "mlp.c_proj"}, .seed = 3};
  Tensor adapted;
  explicit Fixture(const std::string& dir) {
    randomize(base, 8);
    GPT m = base;  // shares the base tensors; add_lora only re-wraps them
    add_lora(m, opts);
    Rng rng(9);
    for (const auto& [name, p] : lora_parameters(m))
      if (name.find("lora_B") != std::string::npos)
        Var(p).value_mut().copy_from(rng.normal(p.shape(), 0.0, 0.3));
    adapted = m.forward(kIds, 2, 6).value().clone();
    save_lora_adapter(m, opts, "toy-base", dir);
    for (auto& [name, lin] : m.linear_modules()) lin->lora.reset();
  }
  GPT fresh_base() const {
    GPT g = GPT::zeros(base.config());
    g.load_state_dict(base.state_dict());
    return g;
  }
};

}  // namespace

TEST_CASE("adapter files: PEFT names, shapes and config keys", "[nn][lora][io]") {
  ScratchDir dir("lora_io");
  Fixture fx(dir / "ad");
  const SafetensorsFile f = read_safetensors(dir / "ad" + "/adapter_model.safetensors");
  CHECK(f.tensors.size() == 8);  // 2 layers x (c_attn, mlp.c_proj) x (A, B)
  CHECK(f.tensors.at("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight").shape() ==
        Shape{2, 8});
  CHECK(f.tensors.at("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight").shape() ==
        Shape{24, 2});
  CHECK(f.tensors.at("base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight").shape() ==
        Shape{2, 32});
  CHECK(f.metadata.at("cpurich_base_checksum") == base_checksum(fx.base));
  const auto j = nlohmann::json::parse(read_file(dir / "ad" + "/adapter_config.json"));
  CHECK(j.at("peft_type") == "LORA");
  CHECK(j.at("task_type") == "CAUSAL_LM");
  CHECK(j.at("r") == 2);
  CHECK(j.at("lora_alpha") == 4.0);
  CHECK(j.at("lora_dropout") == 0.05);
  CHECK(j.at("fan_in_fan_out") == true);
  CHECK(j.at("use_rslora") == false);
  CHECK(j.at("bias") == "none");
  CHECK(j.at("base_model_name_or_path") == "toy-base");
  CHECK(j.at("target_modules") == std::vector<std::string>{"c_attn", "mlp.c_proj"});
  CHECK(j.at("cpurich").at("base_checksum") == base_checksum(fx.base));
}

TEST_CASE("adapter round trip: loaded logits equal the trained adapter's", "[nn][lora][io]") {
  ScratchDir dir("lora_io_rt");
  Fixture fx(dir / "ad");
  GPT g = fx.fresh_base();
  const LoraOptions o = load_lora_adapter(g, dir / "ad");
  CHECK(o.rank == 2);
  CHECK(o.alpha == 4.0);
  CHECK(o.targets == fx.opts.targets);
  CHECK(lora_modules(g).size() == 4);
  CHECK(max_abs_diff(g.forward(kIds, 2, 6).value(), fx.adapted) == 0.0);
  merge_lora(g);
  CHECK(max_abs_diff(g.forward(kIds, 2, 6).value(), fx.adapted) < 1e-4);
}

TEST_CASE("an adapter is refused on another base", "[nn][lora][io]") {
  ScratchDir dir("lora_io_base");
  Fixture fx(dir / "ad");
  GPT other(toy_config(2), 7);  // same shapes, different weights
  CHECK_THROWS_WITH(load_lora_adapter(other, dir / "ad"),
                    Contains("trained on another base model"));
  CHECK(lora_modules(other).empty());
}

TEST_CASE("malformed adapters are rejected with one-line errors", "[nn][lora][io]") {
  ScratchDir dir("lora_io_bad");
  Fixture fx(dir / "ad");
  const std::string cfg_path = dir / "ad" + "/adapter_config.json";
  const std::string w_path = dir / "ad" + "/adapter_model.safetensors";
  const std::string good_cfg = read_file(cfg_path);
  const SafetensorsFile good = read_safetensors(w_path);
  auto expect = [&](const std::string& what) {
    GPT g = fx.fresh_base();
    try {
      load_lora_adapter(g, dir / "ad");
      FAIL("loaded a bad adapter, expected: " << what);
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Contains(what));
      CHECK(msg.find('\n') == std::string::npos);
    }
    CHECK(lora_modules(g).empty());
  };
  auto with_config = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto j = nlohmann::json::parse(good_cfg);
    edit(j);
    write_file_atomic(cfg_path, j.dump());
  };
  auto with_tensors = [&](const std::function<void(std::map<std::string, Tensor>&)>& edit) {
    auto t = good.tensors;
    edit(t);
    write_safetensors(w_path, t, good.metadata);
  };
  write_file_atomic(cfg_path, std::string("{\"peft_type\": \"LORA\", "));
  expect("not a JSON object");
  with_config([](auto& j) { j["r"] = 0; });
  expect("r must be an integer");
  with_config([](auto& j) { j["r"] = 1 << 20; });
  expect("r must be an integer");
  with_config([](auto& j) { j["r"] = 3; });
  expect("lora_A.weight has shape (2, 8), expected (3, 8)");  // the stored tensors are rank 2
  with_config([](auto& j) { j["peft_type"] = "IA3"; });
  expect("peft_type");
  with_config([](auto& j) { j["fan_in_fan_out"] = false; });
  expect("fan_in_fan_out");
  with_config([](auto& j) { j["target_modules"] = "c_attn|c_fc"; });
  expect("target_modules");
  with_config([](auto& j) { j["target_modules"] = {"q_proj"}; });
  expect("target 'q_proj' matches no layer");
  with_config([](auto& j) { j.erase("lora_alpha"); });
  expect("missing key \"lora_alpha\"");
  write_file_atomic(cfg_path, good_cfg);

  const std::string a0 = "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight";
  with_tensors([&](auto& t) { t.erase(a0); });
  expect("missing tensor " + a0);
  with_tensors([&](auto& t) { t[a0] = Tensor::zeros({2, 9}); });
  expect(a0 + " has shape (2, 9), expected (2, 8)");
  with_tensors([&](auto& t) {
    Tensor x = t[a0].clone();
    x.data_f32()[3] = std::numeric_limits<float>::quiet_NaN();
    t[a0] = x;
  });
  expect(a0 + "' holds nan at element 3");
  with_tensors([&](auto& t) {
    t["base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight"] = Tensor::zeros({2, 8});
  });
  expect("unexpected tensor base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight");
  write_file_atomic(w_path, std::string("garbage"));
  expect("adapter_model.safetensors");
}
