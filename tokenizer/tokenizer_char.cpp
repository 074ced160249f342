// tokenizer_char.cpp: see tokenizer_char.h. Encoding is a lookup per code
// point: a 128-entry table for ASCII, binary search in the sorted vocabulary
// otherwise (O(log V) per character).
#include "tokenizer/tokenizer_char.h"

#include <algorithm>
#include <stdexcept>

#include "tokenizer/utf8.h"

namespace cpurich {

CharTokenizer::CharTokenizer(std::vector<char32_t> chars, bool use_unk)
    : chars_(std::move(chars)), use_unk_(use_unk), ascii_id_(128, -1) {
  std::sort(chars_.begin(), chars_.end());
  if (std::adjacent_find(chars_.begin(), chars_.end()) != chars_.end()) {
    throw std::invalid_argument("char tokenizer: duplicate character in vocabulary");
  }
  for (std::size_t i = 0; i < chars_.size(); ++i) {
    const char32_t cp = chars_[i];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      throw std::invalid_argument("char tokenizer: vocabulary entry is not a Unicode character");
    }
    if (cp < 128) ascii_id_[cp] = static_cast<int32_t>(i);
  }
}

CharTokenizer CharTokenizer::train(std::string_view corpus, bool use_unk) {
  // One pass with a "seen" bit per possible code point (0x110000 bits =
  // 136 KB): O(n) instead of sorting all n characters.
  std::vector<bool> seen(0x110000, false);
  std::vector<char32_t> chars;
  for (std::size_t pos = 0; pos < corpus.size();) {
    const utf8::Decoded d = utf8::decode_one(corpus, pos);
    if (d.len == 0)
      throw std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(pos));
    if (!seen[d.cp]) chars.push_back(d.cp);
    seen[d.cp] = true;
    pos += d.len;
  }
  return CharTokenizer(std::move(chars), use_unk);
}

int32_t CharTokenizer::lookup(char32_t cp) const {
  if (cp < 128) return ascii_id_[cp];
  const auto it = std::lower_bound(chars_.begin(), chars_.end(), cp);
  if (it == chars_.end() || *it != cp) return -1;
  return static_cast<int32_t>(it - chars_.begin());
}

std::vector<int32_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<char32_t> cps;
  std::vector<std::size_t> offsets;
  utf8::decode_with_offsets(text, cps, offsets);  // throws on invalid UTF-8
  std::vector<int32_t> ids(cps.size());
  std::size_t unknown = 0;
  std::string listed;  // the first few unknown characters, for the error message
  for (std::size_t i = 0; i < cps.size(); ++i) {
    ids[i] = lookup(cps[i]);
    if (ids[i] >= 0) continue;
    if (use_unk_) {
      ids[i] = unk_id();
      continue;
    }
    if (++unknown <= 5) {
      listed += (unknown > 1 ? ", " : "") + utf8::describe(cps[i]) + " at char " +
                std::to_string(i) + " (byte " + std::to_string(offsets[i]) + ")";
    }
  }
  if (unknown > 0) {
    throw std::invalid_argument("text has " + std::to_string(unknown) +
                                " character(s) outside the char vocabulary: " + listed +
                                (unknown > 5 ? ", ..." : ""));
  }
  return ids;
}

std::string CharTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id >= 0 && static_cast<std::size_t>(id) < chars_.size()) {
      utf8::append(out, chars_[id]);
    } else if (id == unk_id() && use_unk_) {
      out += kUnkText;
    } else {
      throw std::invalid_argument("token id " + std::to_string(id) + " out of range [0, " +
                                  std::to_string(vocab_size()) + ")");
    }
  }
  return out;
}

int32_t CharTokenizer::vocab_size() const {
  return static_cast<int32_t>(chars_.size()) + (use_unk_ ? 1 : 0);
}

nlohmann::json CharTokenizer::to_json() const {
  nlohmann::json vocab = nlohmann::json::array();
  for (const char32_t cp : chars_) vocab.push_back(utf8::encode(cp));
  return {{"kind", "char"}, {"version", 1}, {"vocab", vocab}, {"unk", use_unk_}};
}

CharTokenizer CharTokenizer::from_json(const nlohmann::json& j) {
  if (!j.contains("vocab") || !j["vocab"].is_array()) {
    throw std::invalid_argument("tokenizer.json: field 'vocab' must be an array of characters");
  }
  std::vector<char32_t> chars;
  for (std::size_t i = 0; i < j["vocab"].size(); ++i) {
    const auto& e = j["vocab"][i];
    const std::string where = "tokenizer.json: field 'vocab[" + std::to_string(i) + "]'";
    if (!e.is_string()) throw std::invalid_argument(where + " must be a string");
    const std::vector<char32_t> cps = utf8::decode(e.get<std::string>());
    if (cps.size() != 1) throw std::invalid_argument(where + " must be exactly one character");
    // Ids are positions in the sorted list: an unsorted file would silently
    // renumber the tokens, so we reject it.
    if (!chars.empty() && cps[0] <= chars.back()) {
      throw std::invalid_argument(where + " breaks the order: vocab must be sorted by code point");
    }
    chars.push_back(cps[0]);
  }
  bool use_unk = false;
  if (j.contains("unk")) {
    if (!j["unk"].is_boolean())
      throw std::invalid_argument("tokenizer.json: field 'unk' must be true or false");
    use_unk = j["unk"].get<bool>();
  }
  try {
    return CharTokenizer(std::move(chars), use_unk);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("tokenizer.json: field 'vocab': ") + e.what());
  }
}

}  // namespace cpurich
