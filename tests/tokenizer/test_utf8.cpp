// test_utf8.cpp: the strict UTF-8 decoder/encoder.
#include <catch2/catch.hpp>

#include "tokenizer/utf8.h"

using namespace cpurich;

namespace {
std::string error_of(std::string_view s) {
  try {
    utf8::validate(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("utf8 decodes and encodes every kind of sequence") {
  const std::string s = "a\xC3\xA9\xE4\xB8\x96\xF0\x9F\x99\x82";  // a é 世 🙂
  const std::vector<char32_t> cps = utf8::decode(s);
  REQUIRE(cps == std::vector<char32_t>{U'a', 0xE9, 0x4E16, 0x1F642});
  std::string back;
  for (const char32_t cp : cps) utf8::append(back, cp);
  REQUIRE(back == s);
}

TEST_CASE("utf8 round-trips code points across the whole range") {
  for (char32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x800 ? 1 : 97)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string bytes = utf8::encode(cp);
    const auto d = utf8::decode_one(bytes, 0);
    REQUIRE(d.len == bytes.size());
    REQUIRE(d.cp == cp);
  }
  REQUIRE_THROWS_AS(utf8::encode(0xD800), std::invalid_argument);
  REQUIRE_THROWS_AS(utf8::encode(0x110000), std::invalid_argument);
}

TEST_CASE("utf8 reports the byte offset of invalid input") {
  CHECK(error_of("ab\xC3") == "invalid UTF-8 at byte offset 2");        // truncated
  CHECK(error_of("a\x80") == "invalid UTF-8 at byte offset 1");         // stray continuation
  CHECK(error_of("xy\xC0\xAF") == "invalid UTF-8 at byte offset 2");    // overlong '/'
  CHECK(error_of("\xED\xA0\x80") == "invalid UTF-8 at byte offset 0");  // surrogate
  CHECK(error_of("\xC3\xA9\xF4\x90\x80\x80") == "invalid UTF-8 at byte offset 2");  // > U+10FFFF
  CHECK(error_of("\xFF") == "invalid UTF-8 at byte offset 0");
  CHECK(error_of("ok \xC3\xA9") == "");
  CHECK_FALSE(utf8::is_valid("\xE4\xB8"));
}
