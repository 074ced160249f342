// tokenizer_gpt2.cpp: the byte <-> printable-character alphabet of GPT-2, our
// tokenizer.json for BPE (which uses that alphabet), and loading Hugging Face
// GPT-2 files (vocab.json + merges.txt) so imported GPT-2 weights get the ids
// they were trained with.
//
// Why an alphabet: BPE tokens are byte strings, often not valid UTF-8 ("\xC3"
// alone is half of "é"), and JSON strings must be valid UTF-8. GPT-2 maps
// each byte to one printable character: the 188 printable Latin-1 bytes map to
// themselves, the other 68 (control bytes, space, 0x7F-0xA0, 0xAD) to
// U+0100..U+0143 in byte order. So a space is 'Ġ' (U+0120), a newline 'Ċ'.
#include <array>
#include <stdexcept>

#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/utf8.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

bool printable_byte(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Alphabet {
  std::array<char32_t, 256> to_cp{};
  std::array<int, 324> to_byte{};  // code points 0..323; -1 = not in the alphabet
  Alphabet() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      to_cp[b] =
          printable_byte(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_byte[to_cp[b]] = b;
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

std::invalid_argument field_error(const std::string& field, const std::string& what) {
  return std::invalid_argument("tokenizer.json: field '" + field + "' " + what);
}

}  // namespace

std::string bytes_to_unicode(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) utf8::append(out, alphabet().to_cp[static_cast<unsigned char>(c)]);
  return out;
}

std::string unicode_to_bytes(std::string_view text) {
  std::string out;
  for (const char32_t cp : utf8::decode(text)) {
    const int b = cp < 324 ? alphabet().to_byte[cp] : -1;
    if (b < 0)
      throw std::invalid_argument("character " + utf8::describe(cp) +
                                  " is not in GPT-2's byte alphabet");
    out.push_back(static_cast<char>(b));
  }
  return out;
}

nlohmann::json BpeTokenizer::to_json() const {
  nlohmann::json vocab = nlohmann::json::array(), merges = nlohmann::json::array(),
                 specials = nlohmann::json::array();
  for (const std::string& t : tokens_) vocab.push_back(bytes_to_unicode(t));
  for (const auto& [a, b] : merges_)
    merges.push_back(bytes_to_unicode(tokens_[a]) + " " + bytes_to_unicode(tokens_[b]));
  for (const Special& s : specials_) specials.push_back({{"content", s.content}, {"id", s.id}});
  return {{"kind", "bpe"},  {"version", 1},     {"pre_split", pre_split_},
          {"vocab", vocab}, {"merges", merges}, {"specials", specials}};
}

namespace {

std::vector<BpeTokenizer::Special> specials_from_json(const nlohmann::json& j) {
  std::vector<BpeTokenizer::Special> specials;
  if (!j.contains("specials")) return specials;
  if (!j["specials"].is_array()) throw field_error("specials", "must be an array");
  for (std::size_t i = 0; i < j["specials"].size(); ++i) {
    const auto& s = j["specials"][i];
    const std::string f = "specials[" + std::to_string(i) + "]";
    if (!s.is_object() || !s.contains("content") || !s["content"].is_string() ||
        !s.contains("id") || !s["id"].is_number_integer()) {
      throw field_error(f, "must be {\"content\": string, \"id\": integer}");
    }
    specials.push_back({s["content"].get<std::string>(), s["id"].get<int32_t>()});
  }
  return specials;
}

// Token strings (in the alphabet) -> ids, for the ordinary tokens only.
std::unordered_map<std::string, int32_t> ids_by_string(
    const std::vector<std::string>& strings, const std::vector<BpeTokenizer::Special>& sp) {
  std::vector<bool> special(strings.size(), false);
  for (const auto& s : sp) {
    if (s.id >= 0 && static_cast<std::size_t>(s.id) < strings.size()) special[s.id] = true;
  }
  std::unordered_map<std::string, int32_t> ids;
  for (std::size_t i = 0; i < strings.size(); ++i) {
    if (!special[i]) ids.emplace(strings[i], static_cast<int32_t>(i));
  }
  return ids;
}

BpeTokenizer::Merge parse_merge(std::string_view line,
                                const std::unordered_map<std::string, int32_t>& ids,
                                const std::string& where) {
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
    throw std::invalid_argument(where + " must be two tokens separated by one space");
  }
  const auto a = ids.find(std::string(line.substr(0, space)));
  const auto b = ids.find(std::string(line.substr(space + 1)));
  if (a == ids.end() || b == ids.end())
    throw std::invalid_argument(where + " names a token missing from the vocabulary");
  return {a->second, b->second};
}

}  // namespace

BpeTokenizer BpeTokenizer::from_json(const nlohmann::json& j) {
  if (!j.contains("vocab") || !j["vocab"].is_array())
    throw field_error("vocab", "must be an array of strings");
  if (!j.contains("merges") || !j["merges"].is_array())
    throw field_error("merges", "must be an array of strings");
  if (j.contains("pre_split") && !j["pre_split"].is_boolean())
    throw field_error("pre_split", "must be true or false");
  const bool pre = j.value("pre_split", true);
  const std::vector<Special> specials = specials_from_json(j);
  std::vector<std::string> strings, tokens;
  for (std::size_t i = 0; i < j["vocab"].size(); ++i) {
    const auto& e = j["vocab"][i];
    const std::string f = "vocab[" + std::to_string(i) + "]";
    if (!e.is_string()) throw field_error(f, "must be a string");
    strings.push_back(e.get<std::string>());
    try {
      tokens.push_back(unicode_to_bytes(strings.back()));
    } catch (const std::invalid_argument& err) {
      throw field_error(f, std::string("is not a byte-level token: ") + err.what());
    }
  }
  const auto ids = ids_by_string(strings, specials);
  std::vector<Merge> merges;
  for (std::size_t i = 0; i < j["merges"].size(); ++i) {
    const std::string f = "tokenizer.json: field 'merges[" + std::to_string(i) + "]'";
    if (!j["merges"][i].is_string()) throw std::invalid_argument(f + " must be a string");
    merges.push_back(parse_merge(j["merges"][i].get<std::string>(), ids, f));
  }
  try {
    return BpeTokenizer(std::move(tokens), std::move(merges), specials, pre);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("tokenizer.json: ") + e.what());
  }
}

BpeTokenizer gpt2_tokenizer_from_text(std::string_view vocab_json, std::string_view merges_txt) {
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(vocab_json);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("vocab.json: not valid JSON: ") + e.what());
  }
  if (!vocab.is_object() || vocab.empty())
    throw std::invalid_argument("vocab.json: must be a non-empty object {\"token\": id}");
  std::vector<std::string> strings(vocab.size());
  std::vector<bool> seen(vocab.size(), false);
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<std::size_t>() >= vocab.size() ||
        seen[id.get<std::size_t>()]) {
      throw std::invalid_argument("vocab.json: id of '" + token +
                                  "' must be a distinct integer in [0, " +
                                  std::to_string(vocab.size()) + ")");
    }
    seen[id.get<std::size_t>()] = true;
    strings[id.get<std::size_t>()] = token;
  }
  std::vector<std::string> tokens;
  std::vector<BpeTokenizer::Special> specials;
  for (std::size_t i = 0; i < strings.size(); ++i) {
    if (strings[i] == kEndOfText) specials.push_back({strings[i], static_cast<int32_t>(i)});
    try {
      tokens.push_back(unicode_to_bytes(strings[i]));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("vocab.json: token '" + strings[i] + "': " + e.what());
    }
  }
  const auto ids = ids_by_string(strings, specials);
  std::vector<BpeTokenizer::Merge> merges;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < merges_txt.size();) {
    std::size_t end = merges_txt.find('\n', pos);
    if (end == std::string_view::npos) end = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    merges.push_back(parse_merge(line, ids, "merges.txt line " + std::to_string(line_no)));
  }
  try {
    return BpeTokenizer(std::move(tokens), std::move(merges), std::move(specials), true);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("vocab.json/merges.txt: ") + e.what());
  }
}

BpeTokenizer load_gpt2_tokenizer(const std::string& vocab_json_path,
                                 const std::string& merges_txt_path) {
  return gpt2_tokenizer_from_text(read_file(vocab_json_path), read_file(merges_txt_path));
}

}  // namespace cpurich
