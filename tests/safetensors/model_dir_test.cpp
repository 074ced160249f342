// model_dir_test.cpp: load_model (nn/gpt.h) on model directories laid out
// the way Hugging Face ships GPT-2, and its error messages on broken ones.
// The HF directory is built here byte by byte (F32, F16 and BF16 tensors,
// "transformer." prefix, mask buffers, tied lm_head), not by save_model.
#include <bit>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nn/gpt.h"
#include "nn/safetensors.h"
#include "safetensors_test_util.h"
#include "util/file_util.h"

using Catch::Matchers::Contains;
using cpurich::GPT;
using cpurich::GPTConfig;
using cpurich::Tensor;
using cpurich::test::TempDir;

namespace {

GPTConfig tiny_config() {
  GPTConfig c;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_positions = 6;
  c.vocab_size = 11;
  return c;
}

/// Every parameter filled with k/1024, |k| <= 30, varying by element and
/// tensor: such values have at most 5 significant bits, so F16 and BF16
/// hold them exactly and widening must give them back bit for bit.
std::map<std::string, Tensor> exact_weights(const GPTConfig& config) {
  std::map<std::string, Tensor> weights;
  int salt = 0;
  for (const auto& [name, t] : GPT::zeros(config).state_dict()) {
    std::vector<float> values(static_cast<std::size_t>(t.numel()));
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<float>(static_cast<int>((i * 37 + salt * 11) % 61) - 30) / 1024.0f;
    weights[name] = Tensor::from_vector(values, t.shape());
    ++salt;
  }
  return weights;
}

/// F16 bits of a float that F16 represents exactly as a normal number (or 0).
std::uint16_t exact_f16(float x) {
  const auto b = std::bit_cast<std::uint32_t>(x);
  if ((b & 0x7fffffffu) == 0) return static_cast<std::uint16_t>(b >> 16);
  const int e = static_cast<int>((b >> 23) & 0xff) - 127;
  REQUIRE((e >= -14 && e <= 15 && (b & 0x1fffu) == 0));
  return static_cast<std::uint16_t>(((b >> 31) << 15) | ((e + 15) << 10) | ((b >> 13) & 0x3ff));
}

struct Stored {
  std::string dtype;
  Tensor values;
};

/// A safetensors file written by hand: F32 tensors first, then 16-bit ones
/// (HF's order), header padded with spaces to a multiple of 8.
std::string hf_file(const std::map<std::string, Stored>& tensors) {
  nlohmann::json header;
  std::string buffer;
  for (const char* pass : {"F32", "F16", "BF16"}) {
    for (const auto& [name, s] : tensors) {
      if (s.dtype != pass) continue;
      const std::size_t begin = buffer.size();
      for (const double v : s.values.to_vector()) {
        const auto f = static_cast<float>(v);
        std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
        int n = 4;
        if (s.dtype == "F16") {
          bits = exact_f16(f);
          n = 2;
        } else if (s.dtype == "BF16") {
          REQUIRE((bits & 0xffffu) == 0);  // BF16 holds f exactly
          bits >>= 16;
          n = 2;
        }
        for (int i = 0; i < n; ++i) buffer.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
      }
      header[name] = {{"dtype", s.dtype},
                      {"shape", s.values.shape()},
                      {"data_offsets", {begin, buffer.size()}}};
    }
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return cpurich::test::make_file(text, buffer);
}

/// A directory with config.json (HF keys only: n_ctx, no n_positions) and
/// model.safetensors in HF naming, with each tensor stored in a chosen dtype.
void write_hf_dir(const std::string& dir, const GPTConfig& config,
                  const std::map<std::string, Tensor>& weights) {
  std::map<std::string, Stored> stored;
  const char* dtypes[] = {"F16", "BF16", "F32"};
  int i = 0;
  for (const auto& [name, t] : weights) stored["transformer." + name] = {dtypes[i++ % 3], t};
  stored["lm_head.weight"] = {"F16", weights.at("wte.weight")};  // tied: same values
  stored["transformer.h.0.attn.bias"] = {"F32", Tensor::ones({1, 1, 6, 6})};
  stored["transformer.h.0.attn.masked_bias"] = {"F32", Tensor::scalar(-1e4)};
  cpurich::write_file_atomic(dir + "/model.safetensors", hf_file(stored));
  nlohmann::json j = {{"model_type", "gpt2"},
                      {"n_layer", config.n_layer},
                      {"n_head", config.n_head},
                      {"n_embd", config.n_embd},
                      {"n_ctx", config.n_positions},
                      {"vocab_size", config.vocab_size},
                      {"layer_norm_epsilon", 1e-5},
                      {"resid_pdrop", 0.1},
                      {"activation_function", "gelu_new"}};
  cpurich::write_file_atomic(dir + "/config.json", j.dump(2));
}

}  // namespace

TEST_CASE("a Hugging Face GPT-2 directory with F16/BF16/F32 tensors loads exactly") {
  TempDir dir("st_hfdir");
  const GPTConfig config = tiny_config();
  const auto weights = exact_weights(config);
  write_hf_dir(dir.path().string(), config, weights);

  GPT loaded = cpurich::load_model(dir.path().string());
  CHECK(loaded.config().n_positions == 6);
  const auto state = loaded.state_dict();
  REQUIRE(state.size() == weights.size());  // buffers and lm_head dropped
  for (const auto& [name, want] : weights) {
    INFO(name);
    CHECK(state.at(name).to_vector() == want.to_vector());
  }
  // Same weights put in directly give the same logits, bit for bit.
  GPT direct = GPT::zeros(config);
  direct.load_state_dict(weights);
  const std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9};
  CHECK(loaded.forward(ids, 1, 6).value().to_vector() ==
        direct.forward(ids, 1, 6).value().to_vector());
}

TEST_CASE("load_model names the file and the problem in a broken model directory") {
  TempDir tmp("st_baddir");
  const std::string dir = tmp.path().string();
  const GPTConfig config = tiny_config();
  auto weights = exact_weights(config);
  write_hf_dir(dir, config, weights);
  REQUIRE_NOTHROW(cpurich::load_model(dir));
  nlohmann::json j = nlohmann::json::parse(cpurich::read_file(dir + "/config.json"));
  auto write_config = [&](const nlohmann::json& c) {
    cpurich::write_file_atomic(dir + "/config.json", c.dump());
  };

  SECTION("config.json missing") {
    std::filesystem::remove(dir + "/config.json");
    CHECK_THROWS_WITH(cpurich::load_model(dir),
                      Contains("config.json") && Contains("No such file"));
  }
  SECTION("config.json is not an object") {
    write_config(nlohmann::json::array({1, 2}));
    CHECK_THROWS_WITH(cpurich::load_model(dir), Contains("config.json: expected a JSON object"));
  }
  SECTION("config.json lacks n_head") {
    j.erase("n_head");
    write_config(j);
    CHECK_THROWS_WITH(cpurich::load_model(dir), Contains("config.json: missing key \"n_head\""));
  }
  SECTION("config.json has neither n_positions nor n_ctx") {
    j.erase("n_ctx");
    write_config(j);
    CHECK_THROWS_WITH(cpurich::load_model(dir), Contains("config.json: missing key \"n_ctx\""));
  }
  SECTION("vocab_size disagrees with wte") {
    j["vocab_size"] = 12;
    write_config(j);
    CHECK_THROWS_WITH(
        cpurich::load_model(dir),
        Contains("model.safetensors: wte.weight has shape") && Contains("from config.json"));
  }
  SECTION("n_positions disagrees with wpe") {
    j["n_ctx"] = 5;
    write_config(j);
    CHECK_THROWS_WITH(cpurich::load_model(dir), Contains("wpe.weight has shape"));
  }
  SECTION("n_layer larger than the stored blocks") {
    j["n_layer"] = 2;
    write_config(j);
    CHECK_THROWS_WITH(cpurich::load_model(dir),
                      Contains("model.safetensors: missing tensor(s) h.1."));
  }
  SECTION("model.safetensors missing") {
    std::filesystem::remove(dir + "/model.safetensors");
    CHECK_THROWS_WITH(cpurich::load_model(dir),
                      Contains("model.safetensors: cannot open: No such file"));
  }
  SECTION("model.safetensors truncated") {
    const std::string bytes = cpurich::read_file(dir + "/model.safetensors");
    cpurich::write_file_atomic(dir + "/model.safetensors", bytes.substr(0, bytes.size() - 2));
    CHECK_THROWS_WITH(cpurich::load_model(dir),
                      Contains("model.safetensors: tensor '") && Contains("past the end"));
  }
  SECTION("a tensor stored both with and without the transformer. prefix") {
    std::map<std::string, Tensor> both = weights;
    for (const auto& [name, t] : weights) both["transformer." + name] = t;
    cpurich::write_safetensors(dir + "/model.safetensors", both);
    CHECK_THROWS_WITH(cpurich::load_model(dir), Contains("is stored twice"));
  }
}
