// tokenizer_char.h: the character-level tokenizer, one id per Unicode character.
//
// What it teaches: the simplest tokenizer. The vocabulary is the set of
// characters (code points) seen in the training corpus, sorted by code point,
// so id i is the i-th smallest character. A tiny GPT trained on these ids has
// a small embedding table (~80 rows for the world corpus) but long sequences:
// one token per character. Text with a character outside the vocabulary cannot
// be encoded: we throw, naming the characters and where they are, unless the
// tokenizer was built with an <unk> token (then they all map to it, losing them).
//
// Pipeline position: text -> [tokens] -> tensors -> model -> samples.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace cpurich {

class CharTokenizer : public Tokenizer {
 public:
  /// `chars`: the vocabulary (distinct code points; sorted here). With
  /// `use_unk`, one extra id (the last) stands for any unknown character.
  explicit CharTokenizer(std::vector<char32_t> chars, bool use_unk = false);

  /// Vocabulary = the distinct characters of `corpus` (valid UTF-8, else throws).
  static CharTokenizer train(std::string_view corpus, bool use_unk = false);
  /// From {"kind":"char","vocab":[...],"unk":bool}; throws naming a bad field.
  static CharTokenizer from_json(const nlohmann::json& j);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override;
  std::string kind() const override { return "char"; }
  nlohmann::json to_json() const override;

  /// The vocabulary characters, sorted by code point (without \<unk\>).
  const std::vector<char32_t>& chars() const { return chars_; }
  /// Id of \<unk\>, or -1 without one.
  int32_t unk_id() const { return use_unk_ ? static_cast<int32_t>(chars_.size()) : -1; }
  /// Text that decode() produces for the \<unk\> id.
  static constexpr std::string_view kUnkText = "<unk>";

 private:
  int32_t lookup(char32_t cp) const;  ///< id or -1

  std::vector<char32_t> chars_;
  bool use_unk_ = false;
  std::vector<int32_t> ascii_id_;  // fast path: id of each ASCII byte (or -1)
};

}  // namespace cpurich
