// gguf_vocab.cpp: our tokenizers in llama.cpp's `gpt2` BPE vocabulary.
//
// llama.cpp tokenizes like GPT-2: split the text into words with GPT-2's
// regex, map every byte of a word to a printable character (bytes_to_unicode:
// 'a' stays 'a', a space becomes 'Ġ', a newline 'Ċ'), start from one symbol
// per character and apply the merges by rank, then look each symbol up in
// the token list. So a vocabulary entry is a token's BYTES in that mapped
// alphabet, and the merges are pairs of such strings. Special tokens are the
// exception: llama.cpp finds their raw text in the input before splitting.
#include <set>
#include <stdexcept>

#include "infer/gguf_export.h"
#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "tokenizer/utf8.h"

namespace cpurich {

namespace {

constexpr int32_t kDefaultGpt2SpecialId =
    11;  // llama.cpp's bos/eos for a gpt2 vocab that names none

void add_token(GgufVocab& v, std::string text, GgufTokenType type) {
  v.tokens.push_back(std::move(text));
  v.token_types.push_back(static_cast<int32_t>(type));
}

//! [char_vocab]
// One token per character; a character of k bytes needs k - 1 merges
// (b1 b2 -> b1b2, b1b2 b3 -> b1b2b3, ...) because llama.cpp starts from one
// symbol per BYTE of the mapped text. The left side of such a merge always
// begins with a UTF-8 lead byte and the right side is a continuation byte,
// so these merges never join two different characters.
void char_vocab(const CharTokenizer& tok, GgufVocab& v) {
  std::set<std::string> seen_merges;
  for (char32_t cp : tok.chars()) {
    const std::string bytes = utf8::encode(cp);
    add_token(v, bytes_to_unicode(bytes), GgufTokenType::Normal);
    for (std::size_t k = 1; k < bytes.size(); ++k) {
      std::string merge =
          bytes_to_unicode(bytes.substr(0, k)) + " " + bytes_to_unicode(bytes.substr(k, 1));
      if (seen_merges.insert(merge).second) v.merges.push_back(std::move(merge));
    }
  }
  if (tok.unk_id() >= 0) {
    v.unk = tok.unk_id();
    add_token(v, std::string(CharTokenizer::kUnkText), GgufTokenType::Unknown);
    v.notes.push_back(
        "characters outside the vocabulary: we encode them as <unk>, llama.cpp drops them");
  }
}
//! [char_vocab]

//! [bpe_vocab]
void bpe_vocab(const BpeTokenizer& tok, GgufVocab& v) {
  std::vector<int32_t> special_of(tok.tokens().size(), -1);
  for (std::size_t s = 0; s < tok.specials().size(); ++s)
    special_of[tok.specials()[s].id] = static_cast<int32_t>(s);
  for (std::size_t id = 0; id < tok.tokens().size(); ++id) {
    if (special_of[id] < 0) {
      add_token(v, bytes_to_unicode(tok.tokens()[id]), GgufTokenType::Normal);
      continue;
    }
    const std::string& content = tok.specials()[special_of[id]].content;
    // <|endoftext|> ends a document: llama.cpp's end-of-generation token, a
    // Control token. The chat tags are UserDefined: like ours, llama.cpp
    // matches them anywhere in the text and prints them as they are.
    const bool eot = content == kEndOfText;
    add_token(v, content, eot ? GgufTokenType::Control : GgufTokenType::UserDefined);
    if (eot) v.bos = v.eos = static_cast<int32_t>(id);
  }
  for (const auto& [a, b] : tok.merges())
    v.merges.push_back(bytes_to_unicode(tok.tokens()[a]) + " " + bytes_to_unicode(tok.tokens()[b]));
  if (!tok.pre_split_enabled())
    v.notes.push_back(
        "this BPE tokenizer was trained without word pre-splitting, but llama.cpp always splits "
        "the text GPT-2 style first: merges across word boundaries never happen there");
  else
    v.notes.push_back(
        "word splitting: ours approximates GPT-2's regex for non-ASCII text (Unicode letters and "
        "digits by block), llama.cpp uses Unicode categories; ASCII text splits the same");
  v.notes.push_back(
      "special tokens: we match <|endoftext|> anywhere in a prompt, llama.cpp only when asked "
      "to parse special tokens (the chat tags are matched by both)");
}
//! [bpe_vocab]

}  // namespace

GgufVocab gguf_vocab(const Tokenizer& tokenizer, int64_t n_vocab) {
  if (tokenizer.vocab_size() > n_vocab)
    throw std::invalid_argument("the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                                " ids but the model's vocabulary is " + std::to_string(n_vocab));
  GgufVocab v;
  if (const auto* c = dynamic_cast<const CharTokenizer*>(&tokenizer)) {
    char_vocab(*c, v);
  } else if (const auto* b = dynamic_cast<const BpeTokenizer*>(&tokenizer)) {
    bpe_vocab(*b, v);
  } else {
    throw std::invalid_argument("GGUF export knows char and bpe tokenizers, not '" +
                                tokenizer.kind() + "'");
  }
  // Ids the model has but the tokenizer never produces: placeholders llama.cpp
  // will not produce from text either (no merge builds them).
  const int64_t first_unused = static_cast<int64_t>(v.tokens.size());
  for (int64_t id = first_unused; id < n_vocab; ++id)
    add_token(v, "<|cpurich_unused_" + std::to_string(id) + "|>", GgufTokenType::Unused);
  if (first_unused < n_vocab)
    v.notes.push_back("ids " + std::to_string(first_unused) + ".." + std::to_string(n_vocab - 1) +
                      " are unused placeholders (the model's vocabulary is larger than the "
                      "tokenizer's)");
  if (v.eos < 0 && n_vocab > kDefaultGpt2SpecialId)
    v.notes.push_back("no end-of-text token: llama.cpp then takes id 11 ('" +
                      v.tokens[kDefaultGpt2SpecialId] +
                      "') as end of generation and stops when the model writes it, while "
                      "--ignore-eos forbids that token instead (a loop over llama_decode that "
                      "ignores end-of-generation avoids both)");
  std::set<std::string> seen;
  for (const std::string& t : v.tokens)
    if (!seen.insert(t).second)
      throw std::invalid_argument("two token ids would have the same GGUF text '" + t +
                                  "' (llama.cpp needs every token text to be unique)");
  return v;
}

}  // namespace cpurich
