// test_char.cpp: the character-level tokenizer.
#include <catch2/catch.hpp>

#include "random_text.h"
#include "tokenizer/tokenizer_char.h"

using namespace cpurich;

namespace {
std::string encode_error(const CharTokenizer& tok, std::string_view text) {
  try {
    tok.encode(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("char vocabulary is the corpus characters sorted by code point") {
  const CharTokenizer tok = CharTokenizer::train(
      "b\xC3\xA9"
      "a b");  // "béa b"
  REQUIRE(tok.chars() == std::vector<char32_t>{U' ', U'a', U'b', 0xE9});
  REQUIRE(tok.vocab_size() == 4);
  REQUIRE(tok.encode("ab \xC3\xA9") == std::vector<int32_t>{1, 2, 0, 3});
  REQUIRE(tok.kind() == "char");
}

TEST_CASE("char round-trips empty, one char and mixed scripts") {
  const std::string mixed =
      "Zo\xC3\xAB \xD0\xBC\xD0\xB8\xD1\x80 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82!";
  const CharTokenizer tok = CharTokenizer::train(mixed);
  for (const std::string& s :
       {std::string(), std::string("Z"), mixed, std::string("\xF0\x9F\x99\x82")}) {
    const std::vector<int32_t> ids = tok.encode(s);
    REQUIRE(ids.size() == utf8::decode(s).size());
    REQUIRE(tok.decode(ids) == s);
  }
}

TEST_CASE("char round-trips 1000 random valid UTF-8 strings") {
  test::TestRng rng(42);
  std::vector<std::string> texts;
  std::string all;
  for (int i = 0; i < 1000; ++i) {
    texts.push_back(test::random_utf8(rng, 40));
    all += texts.back();
  }
  const CharTokenizer tok = CharTokenizer::train(all);
  for (const std::string& s : texts) REQUIRE(tok.decode(tok.encode(s)) == s);
}

TEST_CASE("char out-of-vocabulary error names the characters and positions") {
  const CharTokenizer tok = CharTokenizer::train("abc ");
  const std::string msg =
      encode_error(tok, "abXc \xC3\xA9!");  // 'é' is at char 5, byte 5; '!' at 6/7
  CHECK(msg.find("3 character(s)") != std::string::npos);
  CHECK(msg.find("'X' (U+0058) at char 2 (byte 2)") != std::string::npos);
  CHECK(msg.find("'\xC3\xA9' (U+00E9) at char 5 (byte 5)") != std::string::npos);
  CHECK(msg.find("'!' (U+0021) at char 6 (byte 7)") != std::string::npos);
  CHECK(encode_error(tok, "a\nb").find("U+000A at char 1 (byte 1)") != std::string::npos);
}

TEST_CASE("char rejects invalid UTF-8 with its byte offset") {
  const CharTokenizer tok = CharTokenizer::train("abc");
  CHECK(encode_error(tok, "ab\xE4\xB8") == "invalid UTF-8 at byte offset 2");
  CHECK_THROWS_WITH(CharTokenizer::train("ab\xFF"), "invalid UTF-8 at byte offset 2");
}

TEST_CASE("char with <unk> maps unknown characters to one id") {
  const CharTokenizer tok = CharTokenizer::train("abc", /*use_unk=*/true);
  REQUIRE(tok.vocab_size() == 4);
  REQUIRE(tok.unk_id() == 3);
  REQUIRE(tok.encode("aZ\xC3\xA9"
                     "b") == std::vector<int32_t>{0, 3, 3, 1});
  REQUIRE(tok.decode(std::vector<int32_t>{0, 3}) == "a<unk>");
}

TEST_CASE("char decode rejects ids out of range") {
  const CharTokenizer tok = CharTokenizer::train("ab");
  CHECK_THROWS_WITH(tok.decode(std::vector<int32_t>{0, 2}),
                    Catch::Contains("token id 2 out of range [0, 2)"));
  CHECK_THROWS_AS(tok.decode(std::vector<int32_t>{-1}), std::invalid_argument);
}
