// config.h: the hyper-parameters of a GPT, in Hugging Face GPT-2's config.json
// vocabulary so our model directories are readable from Python.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace cpurich {

struct GPTConfig {
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  int64_t n_positions = 64;  ///< block size: the longest context
  int64_t vocab_size = 256;
  double layer_norm_epsilon = 1e-5;
  double dropout = 0.0;  ///< training-time only; not part of config.json's required keys

  /// Throws std::invalid_argument naming the bad field (e.g. n_embd % n_head != 0).
  void validate() const;
};

/// HF keys: n_layer, n_head, n_embd, n_positions, vocab_size, layer_norm_epsilon
/// (plus "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"] on save).
nlohmann::json config_to_json(const GPTConfig& config);
/// Throws std::runtime_error naming a missing or mistyped key.
GPTConfig config_from_json(const nlohmann::json& j);

}  // namespace cpurich
