// random_text.h: seeded random strings for the tokenizer tests (valid UTF-8
// across scripts, and arbitrary bytes). SplitMix64, so the same strings on
// every platform.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/utf8.h"

namespace cpurich::test {

class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }  // tiny bias is fine for tests

 private:
  uint64_t state_;
};

// A code point from a mix of ranges: ASCII (often), Latin-1, Cyrillic, CJK,
// emoji, and anything up to U+10FFFF (never a surrogate).
inline char32_t random_code_point(TestRng& rng) {
  switch (rng.below(6)) {
    case 0:
    case 1:
      return static_cast<char32_t>(0x20 + rng.below(0x5F));
    case 2:
      return static_cast<char32_t>(rng.below(0x100));
    case 3:
      return static_cast<char32_t>(0x400 + rng.below(0x100));
    case 4:
      return static_cast<char32_t>(rng.below(2) ? 0x4E00 + rng.below(0x500)
                                                : 0x1F600 + rng.below(0x50));
    default: {
      char32_t cp = static_cast<char32_t>(rng.below(0x110000));
      return (cp >= 0xD800 && cp <= 0xDFFF) ? cp - 0x800 : cp;
    }
  }
}

inline std::string random_utf8(TestRng& rng, std::size_t max_chars) {
  std::string s;
  const std::size_t n = rng.below(max_chars + 1);
  for (std::size_t i = 0; i < n; ++i) utf8::append(s, random_code_point(rng));
  return s;
}

inline std::string random_bytes(TestRng& rng, std::size_t max_len) {
  std::string s(rng.below(max_len + 1), '\0');
  for (char& c : s) c = static_cast<char>(rng.below(256));
  return s;
}

}  // namespace cpurich::test
