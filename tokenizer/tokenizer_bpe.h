// tokenizer_bpe.h: byte-level byte-pair encoding (BPE), the GPT-2 tokenizer.
//
// What it teaches: start from the 256 byte values as tokens, so ANY byte
// string can be encoded (no unknown characters, invalid UTF-8 included), then
// learn "merges": repeatedly take the most frequent adjacent pair of tokens in
// the corpus and make it a new token. Common words become single tokens, rare
// ones are spelled with several pieces. Encoding replays the merges in the
// order they were learned (lowest rank first). Optionally the text is first
// pre-split into words (GPT-2 style: letters / digits / punctuation runs with
// the leading space attached) so merges never cross word boundaries. Special
// tokens ("<|endoftext|>", "### Human:", "### Assistant:") are matched in the
// text before anything else and always encode as one id each.
//
// Pipeline position: text -> [tokens] -> tensors -> model -> samples.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace cpurich {

inline constexpr std::string_view kEndOfText = "<|endoftext|>";      ///< end-of-text special
inline constexpr std::string_view kHumanTag = "### Human:";          ///< chat turn of the user
inline constexpr std::string_view kAssistantTag = "### Assistant:";  ///< chat turn of the model

/// The special tokens of the chat format: end-of-text, "### Human:", "### Assistant:".
std::vector<std::string> chat_special_tokens();

/// Options of train_bpe.
struct BpeOptions {
  int32_t vocab_size = 512;  ///< 256 bytes + learned merges + special tokens
  bool pre_split = true;     ///< split into GPT-2-style words before learning merges
  std::vector<std::string> specials = chat_special_tokens();  ///< never merged, one id each
};

/// GPT-2-style pre-split without regular expressions: runs of letters, of
/// digits, or of other symbols, each with at most one leading space; English
/// contractions ('s 't 're 've 'm 'll 'd); whitespace runs (a run followed by a
/// word leaves its last space to that word). Non-ASCII characters count as
/// letters except common punctuation blocks; invalid UTF-8 bytes count as
/// symbols. The pieces concatenate back to `text` exactly.
std::vector<std::string_view> pre_split(std::string_view text);

/// A piece of text between special tokens: `special` is the index of the
/// special token the piece is, or -1 for ordinary text.
struct TextPiece {
  std::string_view text;  ///< the bytes of this piece
  int special = -1;       ///< index into the specials list, or -1
};
/// Cuts `text` at every occurrence of a special token (leftmost first, the
/// longest one when several start at the same byte).
std::vector<TextPiece> split_on_specials(std::string_view text,
                                         const std::vector<std::string>& specials);

/// GPT-2's reversible map from bytes to printable Unicode characters (so every
/// token is a readable JSON string; a space becomes 'Ġ', a newline 'Ċ').
std::string bytes_to_unicode(std::string_view bytes);
/// Inverse of bytes_to_unicode; throws std::invalid_argument on a character
/// outside the map.
std::string unicode_to_bytes(std::string_view text);

class BpeTokenizer : public Tokenizer {
 public:
  using Merge = std::pair<int32_t, int32_t>;  ///< (left id, right id)
  /// A special token: its text and its id.
  struct Special {
    std::string content;  ///< e.g. "### Human:"
    int32_t id = 0;       ///< its id in tokens()
  };

  /// `tokens[id]`: the bytes of token id (every single byte must be a token);
  /// `merges` in rank order (rank 0 first): tokens[a] + tokens[b] must be a
  /// token; `specials`: ids whose tokens[id] equals the special's content.
  BpeTokenizer(std::vector<std::string> tokens, std::vector<Merge> merges,
               std::vector<Special> specials, bool pre_split);

  /// From our tokenizer.json object (kind "bpe"); throws naming a bad field.
  static BpeTokenizer from_json(const nlohmann::json& j);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }
  std::string kind() const override { return "bpe"; }
  nlohmann::json to_json() const override;
  int32_t special_id(std::string_view content) const override;

  /// Encodes one piece of ordinary text (no specials, no pre-split) by the
  /// merge ranks, the textbook loop: find the lowest-rank pair, merge all its
  /// occurrences, repeat. O(n^2) for n bytes; the reference for tests.
  std::vector<int32_t> encode_piece_naive(std::string_view piece) const;
  /// The same ids, faster: a linked list of tokens + a min-heap of (rank,
  /// position) candidate pairs, O(n log n).
  std::vector<int32_t> encode_piece(std::string_view piece) const;

  const std::vector<std::string>& tokens() const { return tokens_; }  ///< bytes by id
  const std::vector<Merge>& merges() const { return merges_; }        ///< in rank order
  const std::vector<Special>& specials() const { return specials_; }  ///< special tokens
  bool pre_split_enabled() const { return pre_split_; }  ///< GPT-2-style word split on?

 private:
  struct MergeInfo {
    int32_t rank;    // position in merges_ (lower merges first)
    int32_t result;  // id of tokens[a] + tokens[b]
  };
  const MergeInfo* find_merge(int32_t a, int32_t b) const;
  void append_piece(std::string_view piece, std::vector<int32_t>& out) const;

  std::vector<std::string> tokens_;
  std::vector<Merge> merges_;
  std::vector<Special> specials_;
  std::vector<std::string> special_texts_;  // specials_[i].content, for split_on_specials
  bool pre_split_ = true;
  std::array<int32_t, 256> byte_id_{};                // id of each single byte
  std::unordered_map<uint64_t, MergeInfo> merge_of_;  // key (a << 32) | b
};

/// Learns merges on `corpus` by the textbook loop: recount every pair, merge
/// the most frequent, repeat; O(merges x corpus). Stops early when no pair
/// occurs twice. Ids: 0..255 bytes, then merges, then the specials.
BpeTokenizer train_bpe_naive(std::string_view corpus, const BpeOptions& options = {});
/// Exactly the same tokenizer as train_bpe_naive (tests compare them), with
/// pair counts updated incrementally (see tokenizer_bpe_train.cpp for the
/// complexity).
BpeTokenizer train_bpe(std::string_view corpus, const BpeOptions& options = {});

/// Hugging Face GPT-2 files: vocab.json ({"token": id}, tokens in the
/// bytes_to_unicode alphabet) and merges.txt ("#version" line, then "left right"
/// per line). "<|endoftext|>" becomes a special token when present.
BpeTokenizer load_gpt2_tokenizer(const std::string& vocab_json_path,
                                 const std::string& merges_txt_path);
/// Same from the files' contents.
BpeTokenizer gpt2_tokenizer_from_text(std::string_view vocab_json, std::string_view merges_txt);

}  // namespace cpurich
