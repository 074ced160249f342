// model_io.cpp: model directories on disk.
//
//   DIR/config.json         hyper-parameters, Hugging Face GPT-2 keys
//   DIR/model.safetensors   every parameter by its HF name, F32
//
// The same layout as a Hugging Face GPT-2 checkpoint, so a model trained here
// opens in `transformers` and GPT-2 124M downloaded from the Hub opens here.
// HF files differ in small ways we accept: names may carry a "transformer."
// prefix, the causal-mask buffers attn.bias / attn.masked_bias may be stored
// (they are constants, not parameters), lm_head.weight may be stored even
// though it is tied to wte, and tensors may be F16 or BF16.
//
// Pipeline position: model <-> [files] <-> training / sampling.
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "nn/gpt.h"
#include "nn/quant_io.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

GPTConfig read_config(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
  }
  try {
    return config_from_json(j);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

// Maps HF's stored names onto ours: strips "transformer.", drops the mask
// buffers and a tied lm_head. An lm_head that is not a copy of wte would be
// an untied model, which this architecture cannot represent: refuse it
// rather than silently dropping a trained head.
std::map<std::string, Tensor> normalise_names(std::map<std::string, Tensor> stored,
                                              const std::string& path) {
  const std::string prefix = "transformer.";
  std::map<std::string, Tensor> out;
  Tensor lm_head;
  bool has_lm_head = false;
  for (auto& [name, t] : stored) {
    std::string n = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
    if (ends_with(n, ".attn.bias") || ends_with(n, ".attn.masked_bias")) continue;
    if (n == "lm_head.weight") {
      lm_head = t;
      has_lm_head = true;
      continue;
    }
    if (!out.emplace(n, t).second)
      throw std::runtime_error(path + ": tensor " + n + " is stored twice (with and without \"" +
                               prefix + "\")");
  }
  if (has_lm_head) {
    const auto wte = out.find("wte.weight");
    if (wte == out.end() || wte->second.shape() != lm_head.shape() ||
        max_abs_diff(wte->second, lm_head) != 0.0)
      throw std::runtime_error(path +
                               ": lm_head.weight is not tied to wte.weight (untied output "
                               "heads are not supported)");
  }
  return out;
}

// The parameters a config asks for: wte V*C + wpe P*C + per layer (two
// LayerNorms 4C, c_attn 3C*C + 3C, attn.c_proj C*C + C, c_fc 4C*C + 4C,
// mlp.c_proj 4C*C + C) = 12C^2 + 13C, + ln_f 2C. In double: a hostile config
// may ask for more than int64 holds.
double parameter_count(const GPTConfig& c) {
  const double C = static_cast<double>(c.n_embd);
  return static_cast<double>(c.vocab_size) * C + static_cast<double>(c.n_positions) * C +
         static_cast<double>(c.n_layer) * (12 * C * C + 13 * C) + 2 * C;
}

// Below this many parameters a mismatched model is built anyway, so that the
// error can name the missing or misshapen tensor.
constexpr double kBuildToExplain = 1 << 24;

}  // namespace

void save_model(const GPT& model, const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::map<std::string, Tensor> tensors = model.state_dict();
  for (auto& [name, t] : tensors) t = t.to(DType::F32);  // F64 models (gradchecks) save as F32
  write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  write_file_atomic(dir + "/config.json", config_to_json(model.config()).dump(2) + "\n");
}

GPT load_model(const std::string& dir, const LoadOptions& options) {
  std::map<std::string, QuantMatrix> quantized;
  return load_model(dir, quantized, options);
}

GPT load_model(const std::string& dir, std::map<std::string, QuantMatrix>& quantized,
               const LoadOptions& options) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("model directory " + dir + " does not exist");
  const GPTConfig config = read_config(dir + "/config.json");
  const std::string weights_path = dir + "/model.safetensors";
  SafetensorsFile file = read_safetensors(weights_path);
  quantized = quantized_matrices_from_file(file, config, weights_path);
  for (const auto& [name, q] : quantized)
    file.tensors.emplace(name, dequantize_to_state_tensor(name, q));
  require_finite(file.tensors, weights_path, options);  // by the names stored in the file
  std::map<std::string, Tensor> tensors = normalise_names(std::move(file.tensors), weights_path);
  // The file must hold every parameter, so a config asking for more than it
  // holds is refused before GPT::zeros allocates it (it could be terabytes).
  int64_t stored = 0;
  for (const auto& [name, t] : tensors) stored += t.numel();
  const double wanted = parameter_count(config);
  if (wanted > static_cast<double>(stored) && wanted > kBuildToExplain) {
    char count[32];
    std::snprintf(count, sizeof count, "%.4g", wanted);
    throw std::runtime_error(weights_path + ": config.json describes a model of " + count +
                             " parameters, but the file holds only " + std::to_string(stored));
  }
  GPT model = GPT::zeros(config);
  const std::string problem =
      state_dict_mismatch(model.named_parameters(), tensors, " from config.json");
  if (!problem.empty()) throw std::runtime_error(weights_path + ": " + problem);
  model.load_state_dict(tensors);
  return model;
}

}  // namespace cpurich
