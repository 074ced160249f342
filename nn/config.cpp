// config.cpp: GPTConfig <-> config.json, and the checks that keep a bad
// config from turning into a crash deep inside a kernel.
//
// Pipeline position: model directory (config.json) -> [GPTConfig] -> GPT.
#include "nn/config.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace cpurich {

namespace {

void require_positive(int64_t value, const char* name) {
  if (value < 1)
    throw std::invalid_argument(std::string(name) + " must be >= 1, got " + std::to_string(value));
}

// Reads an integer key. JSON numbers like 4.0 are rejected: HF writes ints,
// and silently truncating 4.5 would hide a broken file.
int64_t get_int(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) throw std::runtime_error(std::string("missing key \"") + key + "\"");
  if (!it->is_number_integer())
    throw std::runtime_error(std::string("key \"") + key + "\" must be an integer, got " +
                             it->dump());
  return it->get<int64_t>();
}

}  // namespace

void GPTConfig::validate() const {
  require_positive(n_layer, "n_layer");
  require_positive(n_head, "n_head");
  require_positive(n_embd, "n_embd");
  require_positive(n_positions, "n_positions");
  require_positive(vocab_size, "vocab_size");
  if (n_embd % n_head != 0)
    throw std::invalid_argument("n_embd (" + std::to_string(n_embd) +
                                ") must be divisible by n_head (" + std::to_string(n_head) + ")");
  // Token ids travel as int32_t, so a bigger vocabulary could not be indexed.
  if (vocab_size > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("vocab_size " + std::to_string(vocab_size) + " does not fit int32");
  if (!(layer_norm_epsilon > 0.0) || !std::isfinite(layer_norm_epsilon))
    throw std::invalid_argument("layer_norm_epsilon must be a positive number, got " +
                                std::to_string(layer_norm_epsilon));
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(dropout));
}

nlohmann::json config_to_json(const GPTConfig& config) {
  nlohmann::json j;
  j["model_type"] = "gpt2";
  j["architectures"] = nlohmann::json::array({"GPT2LMHeadModel"});
  j["n_layer"] = config.n_layer;
  j["n_head"] = config.n_head;
  j["n_embd"] = config.n_embd;
  j["n_positions"] = config.n_positions;
  j["n_ctx"] = config.n_positions;  // older HF configs read the context length from here
  j["vocab_size"] = config.vocab_size;
  j["layer_norm_epsilon"] = config.layer_norm_epsilon;
  j["activation_function"] = "gelu_new";  // HF's name for the tanh-approximated GELU
  return j;
}

GPTConfig config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::runtime_error("expected a JSON object, got " + j.dump());
  if (const auto it = j.find("model_type"); it != j.end() && *it != "gpt2")
    throw std::runtime_error("key \"model_type\" is " + it->dump() +
                             ", only \"gpt2\" is supported");
  if (const auto it = j.find("activation_function");
      it != j.end() && *it != "gelu_new" && *it != "gelu_pytorch_tanh")
    throw std::runtime_error("key \"activation_function\" is " + it->dump() +
                             ", only the tanh GELU (\"gelu_new\") is supported");
  GPTConfig c;
  c.n_layer = get_int(j, "n_layer");
  c.n_head = get_int(j, "n_head");
  c.n_embd = get_int(j, "n_embd");
  // n_positions is the modern key; very old GPT-2 configs only have n_ctx.
  c.n_positions = j.contains("n_positions") ? get_int(j, "n_positions") : get_int(j, "n_ctx");
  c.vocab_size = get_int(j, "vocab_size");
  if (const auto it = j.find("layer_norm_epsilon"); it != j.end()) {
    if (!it->is_number())
      throw std::runtime_error("key \"layer_norm_epsilon\" must be a number, got " + it->dump());
    c.layer_norm_epsilon = it->get<double>();
  }
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("invalid value: ") + e.what());
  }
  return c;
}

}  // namespace cpurich
