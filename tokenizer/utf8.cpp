// utf8.cpp: see utf8.h. A strict decoder (RFC 3629): rejects overlong forms,
// surrogates and code points above U+10FFFF, so each code point has exactly
// one valid encoding and decode(encode(cp)) == cp.
#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace cpurich::utf8 {

namespace {

bool is_continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

std::invalid_argument invalid_at(std::size_t offset) {
  return std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(offset));
}

}  // namespace

Decoded decode_one(std::string_view text, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min_cp = 0;  // smallest code point allowed for this length (no overlong forms)
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min_cp = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min_cp = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min_cp = 0x10000;
  } else {
    return {0, 0};  // a continuation byte or 0xF8..0xFF cannot start a character
  }
  if (pos + len > text.size()) return {0, 0};  // truncated sequence
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(text[pos + i]);
    if (!is_continuation(b)) return {0, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, len};
}

void decode_with_offsets(std::string_view text, std::vector<char32_t>& cps,
                         std::vector<std::size_t>& offsets) {
  cps.clear();
  offsets.clear();
  cps.reserve(text.size());
  offsets.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode_one(text, pos);
    if (d.len == 0) throw invalid_at(pos);
    cps.push_back(d.cp);
    offsets.push_back(pos);
    pos += d.len;
  }
}

std::vector<char32_t> decode(std::string_view text) {
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode_one(text, pos);
    if (d.len == 0) throw invalid_at(pos);
    cps.push_back(d.cp);
    pos += d.len;
  }
  return cps;
}

bool is_valid(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode_one(text, pos);
    if (d.len == 0) return false;
    pos += d.len;
  }
  return true;
}

void validate(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode_one(text, pos);
    if (d.len == 0) throw invalid_at(pos);
    pos += d.len;
  }
}

void append(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    throw std::invalid_argument("not a Unicode scalar value: " +
                                std::to_string(static_cast<uint32_t>(cp)));
  }
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode(char32_t cp) {
  std::string out;
  append(out, cp);
  return out;
}

std::string describe(char32_t cp) {
  char code[16];
  std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(cp));
  const bool printable = cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0) &&
                         !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
  if (!printable) return code;
  std::string out = "'";  // built by appends: GCC 12 warns (wrongly) on a + chain here
  append(out, cp);
  out += "' (";
  out += code;
  out += ")";
  return out;
}

}  // namespace cpurich::utf8
