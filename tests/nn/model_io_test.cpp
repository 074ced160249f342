// model_io_test.cpp: model directories: round trip, Hugging Face variants
// (transformer. prefix, mask buffers, tied lm_head), and every error path.
#include <catch2/catch.hpp>
#include <filesystem>

#include "nn/gpt.h"
#include "nn/safetensors.h"
#include "nn_test_util.h"
#include "tensor/ops.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::testing;

namespace {

std::map<std::string, Tensor> f32_state(const GPT& model) {
  std::map<std::string, Tensor> sd;
  for (const auto& [name, t] : model.state_dict()) sd[name] = t.to(DType::F32);
  return sd;
}

void write_config(const std::string& dir, const nlohmann::json& j) {
  write_file_atomic(dir + "/config.json", j.dump());
}

}  // namespace

TEST_CASE("save_model -> load_model gives bitwise identical logits", "[nn]") {
  ScratchDir dir("roundtrip");
  GPT model(toy_config(2), 9);
  randomize(model, 10);
  model.to_dtype(DType::F32);
  const std::string path = dir / "sub/model";  // save creates missing directories
  save_model(model, path);
  CHECK(std::filesystem::exists(path + "/config.json"));
  const auto j = nlohmann::json::parse(read_file(path + "/config.json"));
  CHECK(j.at("model_type") == "gpt2");
  CHECK(j.at("architectures") == nlohmann::json::array({"GPT2LMHeadModel"}));
  CHECK(j.at("n_ctx") == 6);
  CHECK(read_safetensors(path + "/model.safetensors").tensors.count("lm_head.weight") == 0);

  GPT loaded = load_model(path);
  CHECK(loaded.config().n_layer == 2);
  CHECK(loaded.config().vocab_size == 11);
  const std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
  const Tensor a = model.forward(ids, 2, 4).value();
  const Tensor b = loaded.forward(ids, 2, 4).value();
  CHECK(max_abs_diff(a, b) == 0.0);
}

TEST_CASE("load_model accepts Hugging Face names: transformer. prefix, buffers, tied lm_head",
          "[nn]") {
  ScratchDir dir("hf");
  GPT model(toy_config(1), 2);
  randomize(model, 3);
  model.to_dtype(DType::F32);
  std::map<std::string, Tensor> hf;
  for (const auto& [name, t] : f32_state(model)) hf["transformer." + name] = t;
  hf["transformer.h.0.attn.bias"] = Tensor::ones({1, 1, 6, 6});  // HF's causal mask buffer
  hf["transformer.h.0.attn.masked_bias"] = Tensor::scalar(-1e4);
  hf["lm_head.weight"] = hf["transformer.wte.weight"].clone();
  write_safetensors(dir / "model.safetensors", hf);
  nlohmann::json j = config_to_json(model.config());
  j.erase("n_positions");  // old configs only have n_ctx
  j["resid_pdrop"] = 0.1;  // unknown keys are ignored
  write_config(dir.str(), j);
  GPT loaded = load_model(dir.str());
  CHECK(loaded.config().n_positions == 6);
  const std::vector<int32_t> ids = {0, 10, 5};
  CHECK(max_abs_diff(model.forward(ids, 1, 3).value(), loaded.forward(ids, 1, 3).value()) == 0.0);

  // An lm_head that differs from wte is an untied model: refused.
  hf["lm_head.weight"] = Tensor::zeros(hf["transformer.wte.weight"].shape());
  write_safetensors(dir / "model.safetensors", hf);
  CHECK_THROWS_WITH(load_model(dir.str()), Catch::Contains("lm_head.weight is not tied"));
}

TEST_CASE("load_model names the file and tensor on mismatches", "[nn]") {
  ScratchDir dir("bad");
  GPT model(toy_config(1), 2);
  save_model(model, dir.str());
  const std::string st = dir / "model.safetensors";
  auto sd = f32_state(model);

  SECTION("wrong shape") {
    sd["h.0.attn.c_attn.weight"] = Tensor::zeros({4, 12});
    write_safetensors(st, sd);
    CHECK_THROWS_WITH(
        load_model(dir.str()),
        Catch::Contains("model.safetensors: h.0.attn.c_attn.weight has shape (4, 12), "
                        "expected (8, 24) from config.json"));
  }
  SECTION("missing tensor") {
    sd.erase("ln_f.bias");
    write_safetensors(st, sd);
    CHECK_THROWS_WITH(load_model(dir.str()), Catch::Contains("missing tensor(s) ln_f.bias"));
  }
  SECTION("unexpected tensor") {
    sd["h.1.ln_1.weight"] = Tensor::ones({8});
    write_safetensors(st, sd);
    CHECK_THROWS_WITH(load_model(dir.str()),
                      Catch::Contains("unexpected tensor(s) h.1.ln_1.weight"));
  }
  SECTION("config.json: missing key, wrong type, invalid value, not JSON") {
    nlohmann::json j = config_to_json(model.config());
    j.erase("n_embd");
    write_config(dir.str(), j);
    CHECK_THROWS_WITH(load_model(dir.str()),
                      Catch::Contains("config.json") && Catch::Contains("missing key \"n_embd\""));
    j = config_to_json(model.config());
    j["n_head"] = "two";
    write_config(dir.str(), j);
    CHECK_THROWS_WITH(load_model(dir.str()), Catch::Contains("\"n_head\" must be an integer"));
    j["n_head"] = 3;
    write_config(dir.str(), j);
    CHECK_THROWS_WITH(load_model(dir.str()), Catch::Contains("divisible by n_head"));
    write_file_atomic(dir / "config.json", std::string("{ n_layer: 1"));
    CHECK_THROWS_WITH(load_model(dir.str()), Catch::Contains("config.json: not valid JSON"));
  }
  SECTION("missing directory or files") {
    CHECK_THROWS_WITH(load_model(dir / "nope"), Catch::Contains("does not exist"));
    std::filesystem::remove(st);
    CHECK_THROWS_WITH(load_model(dir.str()), Catch::Contains("model.safetensors"));
  }
}

TEST_CASE("load_state_dict converts dtypes and checks names", "[nn]") {
  GPT f64(toy_config(1), 4, DType::F64);
  GPT f32 = GPT::zeros(toy_config(1));
  f32.load_state_dict(f64.state_dict());
  CHECK(f32.state_dict().at("wte.weight").dtype() == DType::F32);
  CHECK(max_abs_diff(f32.state_dict().at("wte.weight"),
                     f64.state_dict().at("wte.weight").to(DType::F32)) == 0.0);
  auto sd = f32.state_dict();
  sd.erase("wpe.weight");
  CHECK_THROWS_WITH(f32.load_state_dict(sd), Catch::Contains("missing tensor(s) wpe.weight"));
}

TEST_CASE(
    "a config.json asking for far more parameters than the file holds is refused before "
    "allocating",
    "[nn][io]") {
  ScratchDir dir("model_io_huge");
  save_model(GPT(toy_config(1), 1), dir.str());
  // n_embd 2^20: about 1.3e13 parameters (52 TB) for a file of a few KB.
  write_file_atomic(dir / "config.json",
                    std::string(R"({"n_layer":1,"n_head":2,"n_embd":1048576,"n_positions":6,)"
                                R"("vocab_size":11})"));
  CHECK_THROWS_WITH(load_model(dir.str()),
                    Catch::Contains("config.json describes a model of 1.319e+13 parameters, but "
                                    "the file holds only"));
}
