// 05_tokenizers: characters vs byte-pair encoding on the world corpus.
//
// What it teaches: a tokenizer decides how many tokens a model must read for
// the same text. Character-level: tiny vocabulary, one token per character.
// Byte-level BPE: a larger vocabulary of frequent pieces ("Ġborn", " Port"),
// so ~2-4x fewer tokens, i.e. a longer effective context for the same T.
// We generate the world corpus in memory, train both, and compare vocabulary
// size, tokens per character and training time; then show one sentence cut
// into tokens, and the incremental BPE trainer against the naive one.
// Every claim it prints is checked (one token per character, lossless round
// trips, how much BPE compresses, the chat tags as one token, the same merges);
// a false one makes the run exit 1. The timings are shown, not checked.
//
// Pipeline position: text -> [tokens] -> tensors -> model -> samples.
// Run: build/release/lessons/05_tokenizers
#include <cstdio>
#include <ctime>
#include <set>
#include <string>

#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "tokenizer/utf8.h"
#include "train/world.h"

using namespace cpurich;

namespace {

// Every claim the lesson prints is also checked; a false one fails the run.
int failed_claims = 0;
void claim(bool holds, const std::string& what) {
  if (!holds) {
    std::printf("CLAIM FAILED: %s\n", what.c_str());
    ++failed_claims;
  }
}

// decode(encode(text)) == text: a tokenizer must lose nothing.
bool round_trips(const Tokenizer& tok, std::string_view text) {
  return tok.decode(tok.encode(text)) == text;
}

// CPU seconds used by this (single-threaded) program since t0: unlike wall
// time, it does not count the time spent waiting for a core on a busy machine.
double seconds_since(std::clock_t t0) {
  return static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
}

// "[Zo|ë| was| born]": tokens separated by '|'; a token that is not valid
// UTF-8 on its own (half a character) is shown as hex bytes, e.g. <C3>.
std::string show_tokens(const Tokenizer& tok, std::string_view text) {
  std::string out = "[";
  const std::vector<int32_t> ids = tok.encode(text);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string piece = tok.decode(std::span<const int32_t>(&ids[i], 1));
    if (!utf8::is_valid(piece)) {
      std::string hex;
      for (const unsigned char c : piece) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<%02X>", c);
        hex += buf;
      }
      piece = hex;
    }
    out += (i ? "|" : "") + piece;
  }
  return out + "]";
}

// The first biography sentence of someone whose name has a non-ASCII letter.
std::string sample_sentence(const world::World& w) {
  for (const world::Biography& b : w.bios) {
    const std::string& first = w.people[b.person].first_name;
    if (first == "Zoë" || first == "Søren" || first == "Björn") return b.sentences[0].text;
  }
  return w.bios[0].sentences[0].text;
}

}  // namespace

int main() {
  std::clock_t t0 = std::clock();
  const world::World w = world::generate_world(world::WorldOptions{});
  const double gen_s = seconds_since(t0);
  const std::vector<char32_t> code_points = utf8::decode(w.corpus);
  const std::size_t n_chars = code_points.size();
  std::printf(
      "world corpus: %zu bytes, %zu characters, %zu biographies (generated in %.3f CPU s)\n\n",
      w.corpus.size(), n_chars, w.bios.size(), gen_s);

  t0 = std::clock();
  const CharTokenizer chr = CharTokenizer::train(w.corpus);
  const double char_s = seconds_since(t0);
  std::printf("%-26s %7s %12s %14s\n", "tokenizer", "vocab", "tokens/char", "train (CPU s)");
  const std::size_t char_tokens = chr.encode(w.corpus).size();
  std::printf("%-26s %7d %12.3f %14.3f\n", "char", chr.vocab_size(),
              static_cast<double>(char_tokens) / n_chars, char_s);
  const std::set<char32_t> distinct(code_points.begin(), code_points.end());
  claim(chr.vocab_size() == static_cast<int32_t>(distinct.size()) && char_tokens == n_chars,
        "char: one id per distinct character, one token per character");
  claim(round_trips(chr, w.corpus), "char: decode(encode(corpus)) == corpus");
  std::size_t tokens_512[2] = {0, 0};  // [pre-split?]: corpus tokens of the 512 vocabulary
  for (const int vocab : {512, 1024}) {
    for (const bool pre : {true, false}) {
      BpeOptions o;
      o.vocab_size = vocab;
      o.pre_split = pre;
      t0 = std::clock();
      const BpeTokenizer bpe = train_bpe(w.corpus, o);
      const double s = seconds_since(t0);
      const std::string name =
          "bpe " + std::to_string(vocab) + (pre ? " pre-split" : " no pre-split");
      const std::vector<int32_t> ids = bpe.encode(w.corpus);
      std::printf("%-26s %7d %12.3f %14.3f\n", name.c_str(), bpe.vocab_size(),
                  static_cast<double>(ids.size()) / n_chars, s);
      claim(bpe.vocab_size() == vocab && bpe.decode(ids) == w.corpus,
            name + ": the asked vocabulary, and decode(encode(corpus)) == corpus");
      // Frequent pieces of several characters: at least 2x fewer tokens than characters.
      claim(2 * ids.size() <= n_chars, name + ": at most 0.5 tokens per character");
      if (vocab == 512) tokens_512[pre] = ids.size();
      // Twice the vocabulary: more merges, each one joining two tokens into one.
      if (vocab == 1024)
        claim(ids.size() < tokens_512[pre], name + ": fewer tokens than with 512 pieces");
    }
  }

  const std::string sentence = sample_sentence(w);
  BpeOptions o;
  o.vocab_size = 512;
  const BpeTokenizer bpe = train_bpe(w.corpus, o);
  std::printf("\nchar: %s\nbpe:  %s\n", show_tokens(chr, sentence).c_str(),
              show_tokens(bpe, sentence).c_str());
  const std::string chat = "### Human: Where was Zoë born?\n### Assistant:";
  std::printf("chat: %s\n", show_tokens(bpe, chat).c_str());
  claim(round_trips(chr, sentence) && round_trips(bpe, sentence) && round_trips(bpe, chat),
        "the sentence and the chat line decode back to themselves");
  claim(bpe.encode(sentence).size() < chr.encode(sentence).size(),
        "bpe cuts the sentence into fewer tokens than char");
  claim(bpe.encode(kHumanTag).size() == 1 && bpe.encode(kAssistantTag).size() == 1,
        "the chat tags are special tokens: one id each");

  // The incremental trainer against the textbook loop, on a 40 KB slice
  // without pre-split (the naive loop recounts all pairs after every merge).
  const std::string slice = w.corpus.substr(0, 40000);
  o.pre_split = false;
  o.vocab_size = 400;
  t0 = std::clock();
  const BpeTokenizer fast = train_bpe(slice, o);
  const double fast_s = seconds_since(t0);
  t0 = std::clock();
  const BpeTokenizer naive = train_bpe_naive(slice, o);
  const double naive_s = seconds_since(t0);
  std::printf(
      "\n40 KB slice, %zu merges: incremental %.4f s, naive %.4f s (%.0fx), same merges: %s\n",
      fast.merges().size(), fast_s, naive_s, naive_s / fast_s,
      fast.merges() == naive.merges() ? "yes" : "NO");
  claim(fast.merges() == naive.merges(), "the incremental trainer learns the naive one's merges");
  std::printf("\n%s\n",
              failed_claims == 0 ? "every claim above checked: yes" : "some claims FAILED");
  return failed_claims == 0 ? 0 : 1;
}
