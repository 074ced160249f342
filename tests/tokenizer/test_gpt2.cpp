// test_gpt2.cpp: loading Hugging Face GPT-2 vocab.json + merges.txt, on a
// tiny hand-written pair of files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "random_text.h"
#include "tokenizer/tokenizer_bpe.h"
#include "util/file_util.h"

using namespace cpurich;

namespace {

// GPT-2's byte -> character table, written out here independently of the
// library (printable Latin-1 bytes keep their code, the others take
// U+0100.. in byte order).
std::string gpt2_char(int b) {
  static const std::vector<int> table = [] {
    std::vector<int> t(256, -1);
    int extra = 0;
    for (int i = 0; i < 256; ++i) {
      const bool keep = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
      t[i] = keep ? i : 256 + extra++;
    }
    return t;
  }();
  return utf8::encode(static_cast<char32_t>(table[b]));
}

// vocab.json with the 256 byte tokens at shuffled ids (GPT-2's ids are not
// byte values), three merged tokens and <|endoftext|> last.
std::string tiny_vocab_json(std::vector<int>& id_of_byte) {
  nlohmann::json v = nlohmann::json::object();
  id_of_byte.resize(256);
  for (int b = 0; b < 256; ++b) {
    id_of_byte[b] = (b * 7 + 3) % 256;  // a permutation: 7 is odd
    v[gpt2_char(b)] = id_of_byte[b];
  }
  v["\xC4\xA0t"] = 256;  // "Ġt" = " t"
  v["he"] = 257;
  v["\xC4\xA0the"] = 258;  // " the"
  v["<|endoftext|>"] = 259;
  return v.dump();
}

const std::string kMerges = "#version: 0.2\n\xC4\xA0 t\nh e\n\xC4\xA0t he\n";

}  // namespace

TEST_CASE("gpt2 byte alphabet matches GPT-2's table") {
  REQUIRE(bytes_to_unicode(" ") == "\xC4\xA0");                   // 'Ġ' U+0120
  REQUIRE(bytes_to_unicode("\n") == "\xC4\x8A");                  // 'Ċ' U+010A
  REQUIRE(bytes_to_unicode(std::string(1, '\0')) == "\xC4\x80");  // U+0100
  REQUIRE(bytes_to_unicode("a~") == "a~");
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
    REQUIRE(bytes_to_unicode(std::string(1, static_cast<char>(b))) == gpt2_char(b));
  }
  REQUIRE(unicode_to_bytes(bytes_to_unicode(all)) == all);
  CHECK_THROWS_WITH(unicode_to_bytes("\xE4\xB8\x96"),
                    Catch::Contains("not in GPT-2's byte alphabet"));
}

TEST_CASE("gpt2 vocab.json + merges.txt speak their own ids") {
  std::vector<int> id_of_byte;
  const BpeTokenizer tok = gpt2_tokenizer_from_text(tiny_vocab_json(id_of_byte), kMerges);
  REQUIRE(tok.vocab_size() == 260);
  REQUIRE(tok.merges().size() == 3);
  REQUIRE(tok.encode(" the") == std::vector<int32_t>{258});
  REQUIRE(tok.encode("the") == std::vector<int32_t>{id_of_byte['t'], 257});
  REQUIRE(tok.encode("a the<|endoftext|>") == std::vector<int32_t>{id_of_byte['a'], 258, 259});
  REQUIRE(tok.special_id("<|endoftext|>") == 259);
  test::TestRng rng(5);
  for (int i = 0; i < 200; ++i) {
    const std::string s = test::random_bytes(rng, 40) + " the " + test::random_utf8(rng, 10);
    REQUIRE(tok.decode(tok.encode(s)) == s);
  }
}

TEST_CASE("gpt2 files load from a model directory and survive tokenizer.json") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cpurich_gpt2_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<int> id_of_byte;
  write_file_atomic((dir / "vocab.json").string(), tiny_vocab_json(id_of_byte));
  write_file_atomic((dir / "merges.txt").string(), kMerges);
  const auto tok = load_tokenizer_from_dir(dir.string());
  REQUIRE(tok->kind() == "bpe");
  REQUIRE(tok->encode(" the") == std::vector<int32_t>{258});
  save_tokenizer(*tok, (dir / "tokenizer.json").string());  // now tokenizer.json takes precedence
  const auto again = load_tokenizer_from_dir(dir.string());
  REQUIRE(again->to_json() == tok->to_json());
  REQUIRE(again->encode("the the<|endoftext|>") == tok->encode("the the<|endoftext|>"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("gpt2 loader errors name the bad line or token") {
  std::vector<int> ids;
  const std::string vocab = tiny_vocab_json(ids);
  CHECK_THROWS_WITH(gpt2_tokenizer_from_text(vocab, "#version: 0.2\nh e\nx yz\n"),
                    Catch::Contains("merges.txt line 3"));
  CHECK_THROWS_WITH(gpt2_tokenizer_from_text(vocab, "h e f\n"),
                    Catch::Contains("merges.txt line 1"));
  CHECK_THROWS_WITH(gpt2_tokenizer_from_text("[1,2]", kMerges), Catch::Contains("vocab.json"));
  CHECK_THROWS_WITH(gpt2_tokenizer_from_text("{\"a\": 5}", ""), Catch::Contains("id of 'a'"));
  CHECK_THROWS_WITH(gpt2_tokenizer_from_text("{\"a\": 0}", ""), Catch::Contains("has no token"));
}
