// lora_io.cpp: PEFT adapter directories (see lora_io.h).
#include "nn/lora_io.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "nn/safetensors.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kPrefix = "base_model.model.transformer.";
constexpr int64_t kMaxRank = 1 << 16;  // far above any layer width here; stops absurd allocations

// FNV-1a 64: h = (h xor byte) * 1099511628211 for every byte.
void fnv1a(uint64_t& h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
}

std::string shape_text(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

const nlohmann::json& need(const nlohmann::json& j, const char* key, const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end()) throw std::runtime_error(path + ": missing key \"" + key + "\"");
  return *it;
}

LoraOptions read_config(const std::string& path, std::string& checksum) {
  nlohmann::json j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error(path + ": not a JSON object");
  try {
    if (need(j, "peft_type", path) != "LORA")
      throw std::runtime_error(path + ": peft_type is not \"LORA\"");
    LoraOptions o;
    const auto& r = need(j, "r", path);
    if (!r.is_number_integer() || r.get<int64_t>() < 1 || r.get<int64_t>() > kMaxRank)
      throw std::runtime_error(path + ": r must be an integer in [1, " + std::to_string(kMaxRank) +
                               "], got " + r.dump());
    o.rank = r.get<int64_t>();
    const auto& alpha = need(j, "lora_alpha", path);
    if (!alpha.is_number()) throw std::runtime_error(path + ": lora_alpha must be a number");
    o.alpha = alpha.get<double>();
    if (j.contains("lora_dropout")) {
      if (!j["lora_dropout"].is_number())
        throw std::runtime_error(path + ": lora_dropout must be a number");
      o.dropout = j["lora_dropout"].get<double>();
    }
    if (j.contains("use_rslora")) {
      if (!j["use_rslora"].is_boolean())
        throw std::runtime_error(path + ": use_rslora must be true or false");
      o.rslora = j["use_rslora"].get<bool>();
    }
    const auto& t = need(j, "target_modules", path);
    if (!t.is_array() || t.empty())
      throw std::runtime_error(path +
                               ": target_modules must be a non-empty list of names "
                               "(regular-expression strings are not supported)");
    o.targets.clear();
    for (const auto& name : t) {
      if (!name.is_string()) throw std::runtime_error(path + ": target_modules holds a non-string");
      o.targets.push_back(name.get<std::string>());
    }
    if (!need(j, "fan_in_fan_out", path).is_boolean() || !j["fan_in_fan_out"].get<bool>())
      throw std::runtime_error(path + ": fan_in_fan_out must be true for GPT-2's Conv1D weights");
    if (j.contains("bias") && j["bias"] != "none")
      throw std::runtime_error(path + ": bias must be \"none\" (trained biases are not supported)");
    checksum.clear();
    if (j.contains("cpurich") && j["cpurich"].is_object() && j["cpurich"].contains("base_checksum"))
      checksum = j["cpurich"]["base_checksum"].get<std::string>();
    try {
      o.validate();
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
    return o;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace

std::string base_checksum(const GPT& model) {
  uint64_t h = 1469598103934665603ull;  // FNV offset basis
  for (const auto& [name, t] : model.state_dict()) {
    fnv1a(h, name.data(), name.size() + 1);  // with the terminating 0: names cannot run together
    const Tensor f = t.to(DType::F32).contiguous();
    fnv1a(h, f.data_f32(), static_cast<size_t>(f.numel()) * sizeof(float));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016" PRIx64, h);
  return buf;
}

std::string peft_tensor_name(const std::string& module, char which) {
  return std::string(kPrefix) + module + ".lora_" + which + ".weight";
}

void save_lora_adapter(GPT& model, const LoraOptions& options, const std::string& base_name,
                       const std::string& dir, const AdapterProvenance& provenance) {
  const std::vector<std::string> modules = lora_modules(model);
  if (modules.empty()) throw std::runtime_error("save_lora_adapter: the model has no adapter");
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, lin] : model.linear_modules()) {
    if (!lin->lora) continue;
    tensors[peft_tensor_name(name, 'A')] = lin->lora->A.value().to(DType::F32);
    tensors[peft_tensor_name(name, 'B')] = lin->lora->B.value().to(DType::F32);
  }
  const std::string checksum =
      provenance.base_checksum.empty() ? base_checksum(model) : provenance.base_checksum;
  nlohmann::json config = {{"peft_type", "LORA"},
                           {"task_type", "CAUSAL_LM"},
                           {"r", options.rank},
                           {"lora_alpha", options.alpha},
                           {"lora_dropout", options.dropout},
                           {"use_rslora", options.rslora},
                           {"target_modules", options.targets},
                           {"fan_in_fan_out", true},
                           {"bias", "none"},
                           {"inference_mode", true},
                           {"init_lora_weights", true},
                           {"modules_to_save", nullptr},
                           {"base_model_name_or_path", base_name},
                           {"cpurich", {{"base_checksum", checksum}, {"modules", modules}}}};
  if (provenance.trained_against != "f32")
    config["cpurich"]["trained_against"] = provenance.trained_against;
  if (provenance.loftq_iters > 0) {
    config["init_lora_weights"] = "loftq";
    config["loftq_config"] = {{"loftq_bits", 4}, {"loftq_iter", provenance.loftq_iters}};
  }
  std::filesystem::create_directories(dir);
  write_safetensors(dir + "/" + kWeightsFile, tensors,
                    {{"format", "pt"}, {"cpurich_base_checksum", checksum}});
  write_file_atomic(dir + "/" + kConfigFile, config.dump(2) + "\n");
}

LoraOptions load_lora_adapter(GPT& model, const std::string& dir, const LoadOptions& options) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("adapter directory " + dir + " does not exist");
  const std::string cfg_path = dir + "/" + kConfigFile, w_path = dir + "/" + kWeightsFile;
  std::string checksum;
  const LoraOptions o = read_config(cfg_path, checksum);
  if (!checksum.empty() && checksum != base_checksum(model))
    throw std::runtime_error(dir +
                             ": this adapter was trained on another base model (base "
                             "checksum " +
                             checksum + ", this model's is " + base_checksum(model) + ")");
  for (const std::string& t : o.targets) {  // a target naming no layer is a config error
    bool found = false;
    for (const auto& [name, lin] : model.linear_modules())
      found = found || lora_target_matches(name, {t});
    if (!found)
      throw std::runtime_error(cfg_path + ": target '" + t + "' matches no layer of this model");
  }
  SafetensorsFile f = read_safetensors(w_path);
  // Expected tensors: every module the targets match, A (r, in) and B (out, r).
  std::map<std::string, std::pair<Tensor, Tensor>> by_module;
  for (const auto& [name, lin] : model.linear_modules()) {
    if (!lora_target_matches(name, o.targets)) continue;
    const Shape& w = lin->weight.shape();  // (in, out)
    for (char which : {'A', 'B'}) {
      const std::string key = peft_tensor_name(name, which);
      const auto it = f.tensors.find(key);
      if (it == f.tensors.end()) throw std::runtime_error(w_path + ": missing tensor " + key);
      const Shape want = which == 'A' ? Shape{o.rank, w[0]} : Shape{w[1], o.rank};
      if (it->second.shape() != want)
        throw std::runtime_error(w_path + ": " + key + " has shape " +
                                 shape_text(it->second.shape()) + ", expected " + shape_text(want));
      require_finite(it->second, key, w_path, options);
      (which == 'A' ? by_module[name].first : by_module[name].second) = it->second;
      f.tensors.erase(it);
    }
  }
  if (!f.tensors.empty())
    throw std::runtime_error(w_path + ": unexpected tensor " + f.tensors.begin()->first +
                             " (not a LoRA weight of a target module of this model)");
  try {
    add_lora(model, o);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(dir + ": " + e.what());
  }
  for (const auto& [name, lin] : model.linear_modules()) {
    if (!lin->lora) continue;
    const auto& [a, b] = by_module.at(name);
    lin->lora->A.value_mut().copy_from(a.to(model.dtype()));
    lin->lora->B.value_mut().copy_from(b.to(model.dtype()));
  }
  return o;
}

}  // namespace cpurich
