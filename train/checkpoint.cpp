// checkpoint.cpp: the checkpoint directory (layout and reasoning in checkpoint.h).
#include "train/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

#include "nn/gpt.h"
#include "nn/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "train/adamw.h"
#include "train/checkpoint_files.h"
#include "train/dataset.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

// 2: the files are saved as one journaled commit with CRC-32s (checkpoint_files.h).
constexpr int kStateVersion = 2;

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

}  // namespace

void save_checkpoint(const std::string& dir, const GPT& model, const Tokenizer& tokenizer,
                     const AdamW& optimizer, const TrainState& state) {
  try {
    const std::string stage = begin_commit(dir);
    save_model(model, stage);  // config.json + model.safetensors
    save_tokenizer(tokenizer, join(stage, "tokenizer.json"));
    write_safetensors(join(stage, "optimizer.safetensors"), optimizer.state_tensors());
    finish_commit(dir, "train_state.json",
                  {{"version", kStateVersion},
                   {"iter", state.iter},
                   {"tokens_seen", state.tokens_seen},
                   {"adam_step", state.adam_step},
                   {"train_position", state.train_position},
                   {"val_position", state.val_position},
                   {"dropout_counter", state.dropout_counter},
                   {"corpus_hash", hex64(state.corpus_hash)},
                   {"config", train_config_to_json(state.config)}});
  } catch (const std::exception& e) {
    std::error_code ec;  // free what the failed save took (a full disk needs the room)
    std::filesystem::remove_all(join(dir, ".staging"), ec);
    throw std::runtime_error("checkpoint of step " + std::to_string(state.iter) + " not saved: " +
                             e.what() + "; " + dir + " still holds the last complete checkpoint");
  }
}

TrainState load_train_state(const std::string& dir) {
  const std::string path = join(dir, "train_state.json");
  const nlohmann::json j = open_commit(dir, "train_state.json");  // every file's CRC checked
  if (get_key<int>(j, "version") != kStateVersion)
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
