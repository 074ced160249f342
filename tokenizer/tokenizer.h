// tokenizer.h: text <-> token ids. Two kinds share this interface:
//   char  one id per Unicode character seen in the training corpus
//   bpe   byte-level byte-pair encoding (GPT-2 style), optionally loaded from
//         Hugging Face GPT-2's vocab.json + merges.txt
// A model directory holds tokenizer.json (our format, documented in
// docs/) next to config.json and model.safetensors.
//
// Pipeline position: text -> [tokens] -> tensors -> model -> samples.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cpurich {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// Throws std::invalid_argument on text it cannot encode (char-level:
  /// unknown characters with their positions, invalid UTF-8 with its offset).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  /// Ids -> text. Byte-level BPE may return partial UTF-8 for a partial sequence.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual std::string kind() const = 0;  ///< "char" or "bpe"
  virtual nlohmann::json to_json() const = 0;
  /// Id of a special token ("<|endoftext|>", "### Human:", "### Assistant:"),
  /// or -1 if this tokenizer has no such special token (char-level never has).
  virtual int32_t special_id(std::string_view content) const {
    (void)content;
    return -1;
  }
};

/// Builds a tokenizer from the JSON object save_tokenizer writes (format in
/// docs/course/tokenizers.md); throws std::invalid_argument naming a bad field.
std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j);

/// Reads a tokenizer.json written by save_tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
/// From a model directory: tokenizer.json, else HF vocab.json + merges.txt.
std::unique_ptr<Tokenizer> load_tokenizer_from_dir(const std::string& dir);
/// Atomic write of tokenizer.json.
void save_tokenizer(const Tokenizer& tokenizer, const std::string& path);

}  // namespace cpurich
