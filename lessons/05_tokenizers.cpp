// 05_tokenizers: characters vs byte-pair encoding on the world corpus.
//
// What it teaches: a tokenizer decides how many tokens a model must read for
// the same text. Character-level: tiny vocabulary, one token per character.
// Byte-level BPE: a larger vocabulary of frequent pieces ("Ġborn", " Port"),
// so ~3-4x fewer tokens, i.e. a longer effective context for the same T.
// We generate the world corpus in memory, train both, and compare vocabulary
// size, tokens per character and training time; then show one sentence cut
// into tokens, and the incremental BPE trainer against the naive one.
//
// Pipeline position: text -> [tokens] -> tensors -> model -> samples.
// Run: build/release/lessons/05_tokenizers
#include <cstdio>
#include <ctime>
#include <string>

#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "tokenizer/utf8.h"
#include "train/world.h"

using namespace cpurich;

namespace {

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
  const std::size_t n_chars = utf8::decode(w.corpus).size();
  std::printf(
      "world corpus: %zu bytes, %zu characters, %zu biographies (generated in %.3f CPU s)\n\n",
      w.corpus.size(), n_chars, w.bios.size(), gen_s);

  t0 = std::clock();
  const CharTokenizer chr = CharTokenizer::train(w.corpus);
  const double char_s = seconds_since(t0);
  std::printf("%-26s %7s %12s %14s\n", "tokenizer", "vocab", "tokens/char", "train (CPU s)");
  std::printf("%-26s %7d %12.3f %14.3f\n", "char", chr.vocab_size(),
              static_cast<double>(chr.encode(w.corpus).size()) / n_chars, char_s);
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
      std::printf("%-26s %7d %12.3f %14.3f\n", name.c_str(), bpe.vocab_size(),
                  static_cast<double>(bpe.encode(w.corpus).size()) / n_chars, s);
    }
  }

  const std::string sentence = sample_sentence(w);
  BpeOptions o;
  o.vocab_size = 512;
  const BpeTokenizer bpe = train_bpe(w.corpus, o);
  std::printf("\nchar: %s\nbpe:  %s\n", show_tokens(chr, sentence).c_str(),
              show_tokens(bpe, sentence).c_str());
  std::printf("chat: %s\n",
              show_tokens(bpe, "### Human: Where was Zoë born?\n### Assistant:").c_str());

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
  return fast.merges() == naive.merges() ? 0 : 1;
}
