// test_dataset.cpp: the token cache (reuse / invalidation / corruption) and
// random batch windows (in range, shifted by one, reproducible).
#include <catch2/catch.hpp>
#include <filesystem>

#include "tokenizer/tokenizer_char.h"
#include "train/dataset.h"
#include "train_test_util.h"
#include "util/file_util.h"

using namespace cpurich;
using cpurich::test::TempDir;

TEST_CASE("token cache is reused when corpus and tokenizer are unchanged", "[dataset][cache]") {
  TempDir dir("cache");
  const std::string cache = dir.file("tokens.bin");
  const std::string text = "hello world, hello tokens";
  const CharTokenizer tok = CharTokenizer::train(text);
  auto first = build_or_load_tokens(text, tok, cache);
  CHECK_FALSE(first.reused);
  CHECK(first.ids == tok.encode(text));
  auto second = build_or_load_tokens(text, tok, cache);
  CHECK(second.reused);
  CHECK(second.ids == first.ids);
  // vocab <= 65536: uint16 ids, so header (48 bytes) + 2 bytes per token.
  CHECK(std::filesystem::file_size(cache) == 48 + 2 * text.size());
}

TEST_CASE("token cache is rebuilt when the corpus or the tokenizer changes", "[dataset][cache]") {
  TempDir dir("cache_inval");
  const std::string cache = dir.file("tokens.bin");
  const std::string text = "abcabcabd";
  const CharTokenizer tok = CharTokenizer::train(text);
  build_or_load_tokens(text, tok, cache);
  const std::string changed = "abcabcabc";  // same alphabet, different bytes
  auto r = build_or_load_tokens(changed, tok, cache);
  CHECK_FALSE(r.reused);
  CHECK(r.ids == tok.encode(changed));
  // A different tokenizer (larger alphabet) must not reuse ids made by another.
  const CharTokenizer tok2 = CharTokenizer::train("abcdxyz");
  auto r2 = build_or_load_tokens(changed, tok2, cache);
  CHECK_FALSE(r2.reused);
  CHECK(r2.ids == tok2.encode(changed));
  CHECK(build_or_load_tokens(changed, tok2, cache).reused);
}

TEST_CASE("a corrupt or truncated token cache is rebuilt, never trusted", "[dataset][cache]") {
  TempDir dir("cache_corrupt");
  const std::string cache = dir.file("tokens.bin");
  const std::string text = "some text for the cache";
  const CharTokenizer tok = CharTokenizer::train(text);
  build_or_load_tokens(text, tok, cache);
  std::string bytes = read_file(cache);
  SECTION("truncated") {
    bytes.resize(bytes.size() - 1);
  }
  SECTION("bad magic") {
    bytes[0] = 'X';
  }
  SECTION("id out of vocabulary") {
    bytes[48] = '\xff';
    bytes[49] = '\x7f';
  }
  SECTION("not a cache at all") {
    bytes = "hello";
  }
  write_file_atomic(cache, bytes);
  auto r = build_or_load_tokens(text, tok, cache);
  CHECK_FALSE(r.reused);
  CHECK(r.ids == tok.encode(text));
}

TEST_CASE("token cache uses 4-byte ids above 65536 tokens of vocabulary", "[dataset][cache]") {
  const std::vector<int32_t> ids = {0, 70000, 5};
  CHECK(encode_token_cache(ids, 70001, 1, 2).size() == 48 + 4 * 3);
  CHECK(encode_token_cache(std::vector<int32_t>{0, 5}, 65536, 1, 2).size() == 48 + 2 * 2);
  CHECK_THROWS(encode_token_cache(ids, 70000, 1, 2));  // 70000 is out of vocabulary
}

TEST_CASE("train/val split holds out the last fraction", "[dataset]") {
  std::vector<int32_t> ids(1000);
  for (int i = 0; i < 1000; ++i) ids[i] = i % 7;
  auto [tr, va] = split_train_val(ids, 0.1, 16);
  CHECK(tr.size() == 900);
  CHECK(va.size() == 100);
  CHECK(std::equal(va.begin(), va.end(), ids.begin() + 900));
  CHECK_THROWS_WITH(split_train_val(ids, 0.01, 16), Catch::Contains("corpus too short"));
}

TEST_CASE("batch windows are in range, shifted by one, and reproducible", "[dataset]") {
  const int64_t T = 8, B = 5;
  std::vector<int32_t> ids(50);
  for (int i = 0; i < 50; ++i) ids[i] = i;  // id == position: windows are easy to check
  TokenStream s(ids, T, 42, "train");
  TokenStream again(ids, T, 42, "train");
  TokenStream other(ids, T, 43, "train");
  bool differs = false;
  for (int rep = 0; rep < 50; ++rep) {
    const Batch b = s.next_batch(B);
    REQUIRE(b.inputs.size() == static_cast<std::size_t>(B * T));
    for (int64_t r = 0; r < B; ++r) {
      const int32_t start = b.inputs[r * T];
      CHECK(start >= 0);
      CHECK(start + T + 1 <= 50);  // the target window ends inside the data
      for (int64_t t = 0; t < T; ++t) {
        CHECK(b.inputs[r * T + t] == start + t);
        CHECK(b.targets[r * T + t] == start + t + 1);
      }
    }
    CHECK(again.next_batch(B).inputs == b.inputs);
    differs = differs || other.next_batch(B).inputs != b.inputs;
  }
  CHECK(differs);
  // Restoring the position replays the same batches.
  const uint64_t pos = s.position();
  const Batch next = s.next_batch(B);
  s.set_position(pos);
  CHECK(s.next_batch(B).inputs == next.inputs);
}

TEST_CASE("every window start is reachable, including the last one", "[dataset]") {
  std::vector<int32_t> ids(12);
  for (int i = 0; i < 12; ++i) ids[i] = i;
  TokenStream s(ids, 4, 7, "train");  // starts 0..7
  std::vector<int> seen(8, 0);
  for (int rep = 0; rep < 400; ++rep) seen[static_cast<std::size_t>(s.next_batch(1).inputs[0])]++;
  for (int c : seen) CHECK(c > 0);  // P(miss one of 8 in 400 draws) ~ 8 * (7/8)^400 ~ 1e-22
  CHECK_THROWS_WITH(TokenStream(std::vector<int32_t>(4), 4, 1, "val"),
                    Catch::Contains("val split"));
}
