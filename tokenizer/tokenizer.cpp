// tokenizer.cpp: reading and writing tokenizer.json, and finding a model
// directory's tokenizer. The format (documented in docs/course/tokenizers.md):
//   {"kind": "char", "version": 1, "vocab": ["\n", " ", "A", ...], "unk": false}
//   {"kind": "bpe", "version": 1, "pre_split": true,
//    "vocab": ["!", "\"", ..., "Ġt", ...],       // token of each id, GPT-2 alphabet
//    "merges": ["Ġ t", ...],                     // rank order, "left right"
//    "specials": [{"content": "<|endoftext|>", "id": 509}, ...]}
#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <stdexcept>

#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "util/file_util.h"

namespace cpurich {

std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("tokenizer.json: must be a JSON object");
  if (!j.contains("kind") || !j["kind"].is_string()) {
    throw std::invalid_argument("tokenizer.json: field 'kind' must be \"char\" or \"bpe\"");
  }
  if (j.contains("version") &&
      (!j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)) {
    throw std::invalid_argument("tokenizer.json: field 'version' must be 1");
  }
  const std::string kind = j["kind"].get<std::string>();
  if (kind == "char") return std::make_unique<CharTokenizer>(CharTokenizer::from_json(j));
  if (kind == "bpe") return std::make_unique<BpeTokenizer>(BpeTokenizer::from_json(j));
  throw std::invalid_argument("tokenizer.json: field 'kind' must be \"char\" or \"bpe\", got \"" +
                              kind + "\"");
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(path + ": not valid JSON: " + e.what());
  }
  try {
    return tokenizer_from_json(j);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

std::unique_ptr<Tokenizer> load_tokenizer_from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  if (fs::exists(d / "tokenizer.json")) return load_tokenizer((d / "tokenizer.json").string());
  if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) {
    return std::make_unique<BpeTokenizer>(
        load_gpt2_tokenizer((d / "vocab.json").string(), (d / "merges.txt").string()));
  }
  throw std::runtime_error("no tokenizer in " + dir +
                           ": expected tokenizer.json, or vocab.json + merges.txt");
}

void save_tokenizer(const Tokenizer& tokenizer, const std::string& path) {
  write_file_atomic(path, tokenizer.to_json().dump(1) + "\n");
}

}  // namespace cpurich
