// test_bpe.cpp: byte-level BPE: hand-checked merges, the fast trainer against
// the naive one, the heap encoder against the naive one, lossless round trips.
#include <algorithm>
#include <catch2/catch.hpp>

#include "random_text.h"
#include "tokenizer/tokenizer_bpe.h"
#include "train/world.h"

using namespace cpurich;

namespace {

BpeOptions opts(int vocab, bool pre_split, std::vector<std::string> specials = {}) {
  BpeOptions o;
  o.vocab_size = vocab;
  o.pre_split = pre_split;
  o.specials = std::move(specials);
  return o;
}

// A small slice of the world corpus: realistic text with non-ASCII names.
const std::string& small_corpus() {
  static const std::string text = [] {
    world::WorldOptions o;
    o.people = 30;
    o.bios_per_person = 3;
    return world::generate_world(o).corpus;
  }();
  return text;
}

}  // namespace

TEST_CASE("bpe learns the textbook merges of aaabdaaabac") {
  // Pairs: aa x4, ab x2 -> merge (a,a)=256. Then "aa a b d aa a b a c":
  // (256,a) x2 and (a,b) x2 tie; the smaller pair (97,98) wins -> 257 = "ab".
  // Then (256,257) x2 -> 258 = "aaab"; every pair left occurs once: stop.
  const BpeTokenizer tok = train_bpe("aaabdaaabac", opts(300, false));
  using M = BpeTokenizer::Merge;
  REQUIRE(tok.merges() == std::vector<M>{{'a', 'a'}, {'a', 'b'}, {256, 257}});
  REQUIRE(tok.tokens()[258] == "aaab");
  REQUIRE(tok.vocab_size() == 259);
  REQUIRE(tok.encode("aaabdaaabac") == std::vector<int32_t>{258, 'd', 258, 'a', 'c'});
}

TEST_CASE("bpe with pre-split never merges across words") {
  // Words: "the" x1, " the" x2, " cat", " hat". (h,e) and (t,h) both occur 3
  // times: (h,e) has the smaller key. Then "the" x3, then (" ", "the") x2 and
  // (a,t) x2 tie: the space (32) sorts first.
  const BpeTokenizer tok = train_bpe("the cat the hat the", opts(260, true));
  REQUIRE(tok.tokens()[256] == "he");
  REQUIRE(tok.tokens()[257] == "the");
  REQUIRE(tok.tokens()[258] == " the");
  REQUIRE(tok.tokens()[259] == "at");
  const BpeTokenizer big = train_bpe(small_corpus(), opts(400, true));
  for (int32_t id = 256; id < big.vocab_size(); ++id) {
    const std::string& t = big.tokens()[id];
    REQUIRE(t.find(' ', 1) == std::string::npos);  // a space only as the first byte
  }
}

TEST_CASE("bpe pre-split follows GPT-2's word pattern") {
  const std::string text = "Hello world's 42 apples,  ok!\n\nZo\xC3\xAB  ";
  const std::vector<std::string_view> pieces = pre_split(text);
  const std::vector<std::string_view> expected = {"Hello", " world",     "'s",  " 42", " apples",
                                                  ",",     " ",          " ok", "!",   "\n",
                                                  "\n",    "Zo\xC3\xAB", "  "};
  REQUIRE(pieces == expected);
  std::string joined;
  for (const auto p : pre_split("a\xFF\xFE b\xC3")) joined += p;  // invalid bytes are kept
  REQUIRE(joined == "a\xFF\xFE b\xC3");
}

TEST_CASE("bpe fast trainer equals the naive trainer") {
  for (const bool pre : {true, false}) {
    const BpeTokenizer fast = train_bpe(small_corpus(), opts(420, pre, chat_special_tokens()));
    const BpeTokenizer naive =
        train_bpe_naive(small_corpus(), opts(420, pre, chat_special_tokens()));
    REQUIRE(fast.merges() == naive.merges());
    REQUIRE(fast.tokens() == naive.tokens());
    REQUIRE(fast.vocab_size() == 420);
  }
  test::TestRng rng(7);  // runs like "aaaa" exercise overlapping pairs
  for (int trial = 0; trial < 20; ++trial) {
    std::string corpus;
    for (int i = 0; i < 300; ++i) corpus += static_cast<char>('a' + rng.below(3));
    corpus += test::random_bytes(rng, 100);
    const bool pre = trial % 2 == 0;
    REQUIRE(train_bpe(corpus, opts(300, pre)).merges() ==
            train_bpe_naive(corpus, opts(300, pre)).merges());
  }
}

TEST_CASE("bpe heap encoder equals the naive encoder") {
  const BpeTokenizer tok = train_bpe(small_corpus(), opts(450, false));
  test::TestRng rng(11);
  for (int i = 0; i < 200; ++i) {
    const std::size_t start = rng.below(small_corpus().size() - 300);
    const std::string piece = small_corpus().substr(start, rng.below(300));
    REQUIRE(tok.encode_piece(piece) == tok.encode_piece_naive(piece));
    const std::string noise = test::random_bytes(rng, 50) + "aaaaaaa" + test::random_utf8(rng, 20);
    REQUIRE(tok.encode_piece(noise) == tok.encode_piece_naive(noise));
  }
}

TEST_CASE("bpe round-trips empty, one char, all 256 bytes, mixed scripts") {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::string mixed =
      "Zo\xC3\xAB \xD0\xBC\xD0\xB8\xD1\x80 \xE4\xB8\x96 \xF0\x9F\x99\x82 ### Human: x";
  for (const bool pre : {true, false}) {
    const BpeTokenizer tok = train_bpe(small_corpus(), opts(400, pre, chat_special_tokens()));
    for (const std::string& s : {std::string(), std::string("a"), all_bytes, mixed}) {
      REQUIRE(tok.decode(tok.encode(s)) == s);
    }
    REQUIRE(tok.encode(all_bytes).size() <= 256);
    // 141 merges learned on this corpus cover its frequent words and name
    // parts, so encoding it takes at most 3 tokens per 4 bytes (~0.5 measured).
    REQUIRE(tok.encode(small_corpus()).size() * 4 < small_corpus().size() * 3);
  }
}

TEST_CASE("bpe round-trips random UTF-8 and random bytes") {
  test::TestRng rng(3);
  for (const bool pre : {true, false}) {
    const BpeTokenizer tok = train_bpe(small_corpus(), opts(380, pre, chat_special_tokens()));
    for (int i = 0; i < 1000; ++i) {
      const std::string s = test::random_utf8(rng, 30);
      REQUIRE(tok.decode(tok.encode(s)) == s);
    }
    for (int i = 0; i < 300; ++i) {
      const std::string s = test::random_bytes(rng, 60);
      REQUIRE(tok.decode(tok.encode(s)) == s);
    }
  }
}

TEST_CASE("bpe special tokens encode as single ids and are never merged") {
  std::string corpus;
  for (int i = 0; i < 50; ++i) corpus += "### Human: hi there\n### Assistant: hello<|endoftext|>";
  const BpeTokenizer tok = train_bpe(corpus, opts(320, true, chat_special_tokens()));
  const int32_t human = tok.special_id("### Human:"), assistant = tok.special_id("### Assistant:"),
                eot = tok.special_id("<|endoftext|>");
  REQUIRE(human >= 256);
  REQUIRE(assistant >= 256);
  REQUIRE(eot == tok.vocab_size() - 3);
  REQUIRE(tok.special_id("### Nobody:") == -1);
  const std::vector<int32_t> ids = tok.encode("### Human: hi\n### Assistant: yo<|endoftext|>");
  REQUIRE(ids.front() == human);
  REQUIRE(std::count(ids.begin(), ids.end(), assistant) == 1);
  REQUIRE(ids.back() == eot);
  for (int32_t id = 256; id < eot; ++id) REQUIRE(tok.tokens()[id].find('#') == std::string::npos);
}

TEST_CASE("split_on_specials finds every special, leftmost and longest first") {
  const std::vector<std::string> specials = {"<|endoftext|>", "### Human:", "##", "### Assistant:"};
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += "### Human: q" + std::to_string(i) + "\n### Assistant: a ## b\n";
  const std::vector<TextPiece> pieces = split_on_specials(text, specials);
  std::string joined;
  std::vector<int> count(specials.size(), 0);
  for (const TextPiece& p : pieces) {
    joined += p.text;
    if (p.special >= 0) {
      ++count[p.special];
      REQUIRE(p.text == specials[p.special]);
    } else {
      REQUIRE(p.text.find("##") == std::string_view::npos);  // no special left inside
    }
  }
  REQUIRE(joined == text);
  REQUIRE(count == std::vector<int>{0, 100, 100, 100});
}

TEST_CASE("bpe decode of a partial UTF-8 sequence and bad ids") {
  const BpeTokenizer tok = train_bpe("", opts(256, true));
  REQUIRE(tok.vocab_size() == 256);
  REQUIRE(tok.decode(std::vector<int32_t>{0xC3}) == "\xC3");
  CHECK_THROWS_WITH(tok.decode(std::vector<int32_t>{256}), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(train_bpe("abc", opts(258, true, chat_special_tokens())),
                    Catch::Contains("below 256"));
}
