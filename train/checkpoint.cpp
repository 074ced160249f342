// checkpoint.cpp: the checkpoint directory (layout and reasoning in checkpoint.h).
#include "train/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "nn/gpt.h"
#include "nn/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "train/adamw.h"
#include "train/dataset.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

constexpr int kStateVersion = 1;

std::string join(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

// Hashes are stored as hex strings: JSON numbers lose bits above 2^53 in many readers.
std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t parse_hex64(const nlohmann::json& j, const std::string& key) {
  if (!j.contains(key) || !j[key].is_string())
    throw std::runtime_error("train_state.json: missing or mistyped key '" + key + "'");
  const std::string s = j[key].get<std::string>();
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw std::runtime_error("train_state.json: key '" + key + "' is not a 16-digit hex hash");
  return std::stoull(s, nullptr, 16);
}

template <typename T>
T get_key(const nlohmann::json& j, const char* key) {
  if (!j.contains(key))
    throw std::runtime_error(std::string("train_state.json: missing key '") + key + "'");
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(std::string("train_state.json: key '") + key + "' has the wrong type");
  }
}

uint64_t hash_file(const std::string& path) {
  return fnv1a64(read_file(path));
}

}  // namespace

void save_checkpoint(const std::string& dir, const GPT& model, const Tokenizer& tokenizer,
                     const AdamW& optimizer, const TrainState& state) {
  std::filesystem::create_directories(dir);
  save_model(model, dir);  // config.json + model.safetensors, each atomic
  save_tokenizer(tokenizer, join(dir, "tokenizer.json"));
  write_safetensors(join(dir, "optimizer.safetensors"), optimizer.state_tensors());
  nlohmann::json j = {{"version", kStateVersion},
                      {"iter", state.iter},
                      {"tokens_seen", state.tokens_seen},
                      {"adam_step", state.adam_step},
                      {"train_position", state.train_position},
                      {"val_position", state.val_position},
                      {"dropout_counter", state.dropout_counter},
                      {"corpus_hash", hex64(state.corpus_hash)},
                      {"model_hash", hex64(hash_file(join(dir, "model.safetensors")))},
                      {"optimizer_hash", hex64(hash_file(join(dir, "optimizer.safetensors")))},
                      {"config", train_config_to_json(state.config)}};
  write_file_atomic(join(dir, "train_state.json"), j.dump(2) + "\n");  // the commit record
}

TrainState load_train_state(const std::string& dir) {
  const std::string path = join(dir, "train_state.json");
  if (!std::filesystem::exists(path))
    throw std::runtime_error("cannot resume: " + path + " not found (not a checkpoint directory)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(path + ": invalid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || get_key<int>(j, "version") != kStateVersion)
    throw std::runtime_error(path + ": unsupported train_state version");
  TrainState s;
  s.iter = get_key<int64_t>(j, "iter");
  s.tokens_seen = get_key<int64_t>(j, "tokens_seen");
  s.adam_step = get_key<int64_t>(j, "adam_step");
  s.train_position = get_key<uint64_t>(j, "train_position");
  s.val_position = get_key<uint64_t>(j, "val_position");
  s.dropout_counter = get_key<uint64_t>(j, "dropout_counter");
  s.corpus_hash = parse_hex64(j, "corpus_hash");
  if (!j.contains("config")) throw std::runtime_error(path + ": missing key 'config'");
  s.config = train_config_from_json(j["config"]);
  if (s.iter < 0 || s.tokens_seen < 0 || s.adam_step < 0)
    throw std::runtime_error(path + ": negative counters");
  // The weights and moments must be the very files this record was written after.
  const char* files[] = {"model.safetensors", "optimizer.safetensors"};
  const char* keys[] = {"model_hash", "optimizer_hash"};
  for (int i = 0; i < 2; ++i) {
    const std::string f = join(dir, files[i]);
    if (!std::filesystem::exists(f)) throw std::runtime_error("cannot resume: " + f + " not found");
    if (hash_file(f) != parse_hex64(j, keys[i]))
      throw std::runtime_error(
          "cannot resume: " + f +
          " does not match train_state.json (checkpoint interrupted while saving?)");
  }
  return s;
}

std::map<std::string, Tensor> load_checkpoint_weights(const std::string& dir,
                                                      const LoadOptions& options) {
  const std::string path = join(dir, "model.safetensors");
  std::map<std::string, Tensor> tensors = read_safetensors(path).tensors;
  require_finite(tensors, path, options);
  return tensors;
}

std::map<std::string, Tensor> load_checkpoint_optimizer(const std::string& dir,
                                                        const LoadOptions& options) {
  const std::string path = join(dir, "optimizer.safetensors");
  std::map<std::string, Tensor> tensors = read_safetensors(path).tensors;
  require_finite(tensors, path, options);
  return tensors;
}

}  // namespace cpurich
