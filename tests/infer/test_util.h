// test_util.h: a tiny character tokenizer and random models for the infer tests
// (the real tokenizers live in train/; these tests must not depend on them).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "nn/gpt.h"
#include "tensor/ops.h"
#include "tokenizer/tokenizer.h"

namespace cpurich::test {

/// One id per character of a fixed alphabet; throws on anything else.
class AlphabetTokenizer : public Tokenizer {
 public:
  explicit AlphabetTokenizer(
      std::string alphabet = "\n #:.?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
      : alphabet_(std::move(alphabet)) {}
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (const char ch : text) {
      const auto pos = alphabet_.find(ch);
      if (pos == std::string::npos)
        throw std::invalid_argument(std::string("unknown character '") + ch + "'");
      ids.push_back(static_cast<int32_t>(pos));
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string s;
    for (const int32_t id : ids) s += alphabet_.at(static_cast<size_t>(id));
    return s;
  }
  int32_t vocab_size() const override { return static_cast<int32_t>(alphabet_.size()); }
  std::string kind() const override { return "char"; }
  nlohmann::json to_json() const override { return {{"alphabet", alphabet_}}; }

 private:
  std::string alphabet_;
};

/// A small GPT config: 2 layers, 2 heads, 32 wide.
inline GPTConfig small_config(int64_t n_positions, int64_t vocab) {
  GPTConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  c.n_positions = n_positions;
  c.vocab_size = vocab;
  return c;
}

/// A GPT with GPT-2 initialisation from seed, but with larger weights (std
/// 0.3 instead of 0.02) so that logits spread out and greedy paths vary.
inline GPT random_model(const GPTConfig& config, uint64_t seed) {
  GPT model(config, seed);
  Rng rng(seed + 1000);
  std::map<std::string, Tensor> sd;
  for (const auto& [name, t] : model.state_dict())
    sd[name] = name.find("ln_") != std::string::npos ? add(t, rng.normal(t.shape(), 0.0, 0.1))
                                                     : rng.normal(t.shape(), 0.0, 0.3);
  model.load_state_dict(sd);
  return model;
}

}  // namespace cpurich::test
