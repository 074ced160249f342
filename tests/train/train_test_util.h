// train_test_util.h: small helpers shared by the training tests: a throwaway
// directory and a minimal byte-alphabet tokenizer (so the data and optimizer
// tests do not depend on the tokenizer implementations).
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nn/gpt.h"
#include "tensor/rng.h"
#include "tests/common/temp_dir.h"
#include "tokenizer/tokenizer.h"

namespace cpurich::test {

/// One id per distinct byte of the text it was built from (sorted). Enough for
/// ASCII test corpora; not a real tokenizer (no save/load support).
class AlphabetTokenizer : public Tokenizer {
 public:
  explicit AlphabetTokenizer(std::string_view text) : chars_(text.begin(), text.end()) {
    std::sort(chars_.begin(), chars_.end());
    chars_.erase(std::unique(chars_.begin(), chars_.end()), chars_.end());
  }
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (char c : text) {
      auto it = std::lower_bound(chars_.begin(), chars_.end(), c);
      if (it == chars_.end() || *it != c) throw std::invalid_argument("unknown character");
      ids.push_back(static_cast<int32_t>(it - chars_.begin()));
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string s;
    for (int32_t id : ids) s.push_back(chars_.at(static_cast<std::size_t>(id)));
    return s;
  }
  int32_t vocab_size() const override { return static_cast<int32_t>(chars_.size()); }
  std::string kind() const override { return "alphabet"; }
  nlohmann::json to_json() const override { return {{"kind", "alphabet"}, {"chars", chars_}}; }

 private:
  std::string chars_;
};

/// `n` copies of a short sentence: a corpus whose next character is (almost)
/// always determined by the previous few, so a model can drive its loss low.
inline std::string repeated_sentence(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "the cat sat on the mat. ";
  return s;
}

/// A random GPT standing in for a pretrained base in fine-tuning tests: its
/// token embedding has std 0.3 instead of GPT-2's 0.02. Why: the head is
/// x @ wte^T after ln_f, and ln_f's output has norm about sqrt(C), so with
/// std 0.02 every logit stays within about 0.02 * C (0.6 for C = 32) and a
/// frozen base cannot express a confident answer whatever the adapters do.
inline GPT wide_embedding_gpt(const GPTConfig& config, uint64_t seed) {
  GPT model(config, seed);
  auto sd = model.state_dict();
  Rng rng(seed + 1);
  sd["wte.weight"] = rng.normal(sd["wte.weight"].shape(), 0.0, 0.3);
  model.load_state_dict(sd);
  return model;
}

}  // namespace cpurich::test
