// tokenizer_bpe.cpp: see tokenizer_bpe.h. Encoding: special tokens first,
// then (optionally) the GPT-2-style pre-split, then the merges on each piece.
// Training lives in tokenizer_bpe_train.cpp, the GPT-2 file loader in
// tokenizer_gpt2.cpp.
#include "tokenizer/tokenizer_bpe.h"

#include <algorithm>
#include <queue>
#include <stdexcept>

#include "tokenizer/utf8.h"

namespace cpurich {

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

enum class CharClass { Space, Letter, Digit, Symbol };

CharClass classify(char32_t cp) {
  if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
      (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
      cp == 0x205F || cp == 0x3000) {
    return CharClass::Space;
  }
  if (cp >= '0' && cp <= '9') return CharClass::Digit;
  if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::Letter;
  if (cp < 0x80) return CharClass::Symbol;
  // Non-ASCII: letters, except Latin-1 punctuation, x and /, general punctuation,
  // currency and CJK punctuation blocks (an approximation of Unicode's \p{L}).
  if ((cp >= 0xA1 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2010 && cp <= 0x206F) ||
      (cp >= 0x20A0 && cp <= 0x20CF) || (cp >= 0x3000 && cp <= 0x303F)) {
    return CharClass::Symbol;
  }
  return CharClass::Letter;
}

// Class and byte length of the character at pos; an invalid byte is a 1-byte symbol.
std::pair<CharClass, std::size_t> char_at(std::string_view text, std::size_t pos) {
  const utf8::Decoded d = utf8::decode_one(text, pos);
  if (d.len == 0) return {CharClass::Symbol, 1};
  return {classify(d.cp), d.len};
}

// End of the run of characters of class `cls` starting at pos.
std::size_t run_end(std::string_view text, std::size_t pos, CharClass cls) {
  while (pos < text.size()) {
    const auto [c, len] = char_at(text, pos);
    if (c != cls) break;
    pos += len;
  }
  return pos;
}

// Length of an English contraction ('s 't 're 've 'm 'll 'd) at pos, or 0.
std::size_t contraction_length(std::string_view text, std::size_t pos) {
  if (text[pos] != '\'') return 0;
  for (const std::string_view suffix : {"re", "ve", "ll", "s", "t", "m", "d"}) {
    if (text.substr(pos + 1, suffix.size()) == suffix) return 1 + suffix.size();
  }
  return 0;
}

// Byte length of the next pre-split piece starting at pos.
std::size_t next_piece(std::string_view text, std::size_t pos) {
  if (const std::size_t c = contraction_length(text, pos)) return c;
  const auto [cls, len] = char_at(text, pos);
  if (cls != CharClass::Space) return run_end(text, pos, cls) - pos;
  // Whitespace run: find its end and where its last character starts.
  std::size_t end = pos, last = pos;
  while (end < text.size()) {
    const auto [c, l] = char_at(text, end);
    if (c != CharClass::Space) break;
    last = end;
    end += l;
  }
  if (end == text.size()) return end - pos;         // trailing whitespace: one piece
  if (last > pos) return last - pos;                // leave the last space to the next word
  if (text[pos] != ' ') return len;                 // a lone newline/tab before a word
  const CharClass next = char_at(text, end).first;  // " word", " 123", " ,."
  return run_end(text, end, next) - pos;
}

}  // namespace

std::vector<std::string> chat_special_tokens() {
  return {std::string(kEndOfText), std::string(kHumanTag), std::string(kAssistantTag)};
}

std::vector<std::string_view> pre_split(std::string_view text) {
  std::vector<std::string_view> pieces;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t len = next_piece(text, pos);
    pieces.push_back(text.substr(pos, len));
    pos += len;
  }
  return pieces;
}

std::vector<TextPiece> split_on_specials(std::string_view text,
                                         const std::vector<std::string>& specials) {
  // next_at[s]: where special s next occurs at or after `pos` (npos: never).
  // Each special is searched again only once we have moved past its cached
  // position, so the whole split is linear in the text length (searching
  // every special from every position would be quadratic when, say, a chat
  // corpus holds thousands of "### Human:" but no "<|endoftext|>").
  constexpr std::size_t npos = std::string_view::npos;
  std::vector<std::size_t> next_at(specials.size(), 0);
  std::vector<bool> searched(specials.size(), false);
  std::vector<TextPiece> pieces;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t best = npos;
    int which = -1;
    for (std::size_t s = 0; s < specials.size(); ++s) {
      if (specials[s].empty()) continue;
      if (!searched[s] || (next_at[s] != npos && next_at[s] < pos)) {
        next_at[s] = text.find(specials[s], pos);
        searched[s] = true;
      }
      const std::size_t at = next_at[s];
      if (at == npos) continue;
      if (at < best || (at == best && specials[s].size() > specials[which].size())) {
        best = at;
        which = static_cast<int>(s);
      }
    }
    if (which < 0) break;
    if (best > pos) pieces.push_back({text.substr(pos, best - pos), -1});
    pieces.push_back({text.substr(best, specials[which].size()), which});
    pos = best + specials[which].size();
  }
  if (pos < text.size()) pieces.push_back({text.substr(pos), -1});
  return pieces;
}

BpeTokenizer::BpeTokenizer(std::vector<std::string> tokens, std::vector<Merge> merges,
                           std::vector<Special> specials, bool pre_split)
    : tokens_(std::move(tokens)),
      merges_(std::move(merges)),
      specials_(std::move(specials)),
      pre_split_(pre_split) {
  const auto n = static_cast<int32_t>(tokens_.size());
  std::vector<bool> is_special(tokens_.size(), false);
  for (const Special& s : specials_) {
    if (s.id < 0 || s.id >= n || tokens_[s.id] != s.content || s.content.empty()) {
      throw std::invalid_argument("bpe: special token '" + s.content + "' has a bad id");
    }
    is_special[s.id] = true;
    special_texts_.push_back(s.content);
  }
  std::unordered_map<std::string, int32_t> id_of;  // ordinary tokens by bytes
  for (int32_t id = 0; id < n; ++id) {
    if (is_special[id]) continue;
    if (tokens_[id].empty())
      throw std::invalid_argument("bpe: token " + std::to_string(id) + " is empty");
    if (!id_of.emplace(tokens_[id], id).second) {
      throw std::invalid_argument("bpe: token " + std::to_string(id) + " duplicates token " +
                                  std::to_string(id_of[tokens_[id]]));
    }
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = id_of.find(std::string(1, static_cast<char>(b)));
    if (it == id_of.end())
      throw std::invalid_argument("bpe: byte " + std::to_string(b) + " has no token");
    byte_id_[b] = it->second;
  }
  for (std::size_t r = 0; r < merges_.size(); ++r) {
    const auto [a, b] = merges_[r];
    const std::string where = "bpe: merge " + std::to_string(r);
    if (a < 0 || a >= n || b < 0 || b >= n)
      throw std::invalid_argument(where + " has an id out of range");
    const auto it = id_of.find(tokens_[a] + tokens_[b]);
    if (it == id_of.end())
      throw std::invalid_argument(where + " makes a token missing from the vocabulary");
    // A pair listed twice keeps its first (lowest) rank, as in GPT-2.
    merge_of_.emplace(pair_key(a, b), MergeInfo{static_cast<int32_t>(r), it->second});
  }
}

const BpeTokenizer::MergeInfo* BpeTokenizer::find_merge(int32_t a, int32_t b) const {
  const auto it = merge_of_.find(pair_key(a, b));
  return it == merge_of_.end() ? nullptr : &it->second;
}

std::vector<int32_t> BpeTokenizer::encode_piece_naive(std::string_view piece) const {
  std::vector<int32_t> ids;
  for (const char c : piece) ids.push_back(byte_id_[static_cast<unsigned char>(c)]);
  while (ids.size() >= 2) {
    const MergeInfo* best = nullptr;  // the lowest-rank pair present
    Merge best_pair{};
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
      const MergeInfo* m = find_merge(ids[i], ids[i + 1]);
      if (m && (!best || m->rank < best->rank)) best = m, best_pair = {ids[i], ids[i + 1]};
    }
    if (!best) break;
    std::vector<int32_t> merged;  // merge every occurrence, left to right
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i + 1 < ids.size() && Merge{ids[i], ids[i + 1]} == best_pair) {
        merged.push_back(best->result);
        ++i;
      } else {
        merged.push_back(ids[i]);
      }
    }
    ids = std::move(merged);
  }
  return ids;
}

// The fast twin of encode_piece_naive, same ids. What it changes: the
// symbols sit in a linked list (a merge unlinks one, O(1)) and the candidate
// pairs in a min-heap by rank, so a piece of n bytes costs O(n log n)
// instead of a full rescan per merge, O(n^2).
std::vector<int32_t> BpeTokenizer::encode_piece(std::string_view piece) const {
  const std::size_t n = piece.size();
  std::vector<int32_t> ids(n), prev(n), next(n);  // doubly linked list; ids[i] = -1: removed
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = byte_id_[static_cast<unsigned char>(piece[i])];
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i) + 1 : -1;
  }
  // Min-heap of candidate pairs (rank, left position): equal ranks merge left
  // to right, as the naive loop does. Entries go stale when a neighbour
  // changes; we check each one when it is popped (lazy deletion).
  using Entry = std::pair<int32_t, int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const MergeInfo* m = find_merge(ids[pos], ids[next[pos]])) heap.push({m->rank, pos});
  };
  for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const auto [rank, pos] = heap.top();
    heap.pop();
    if (ids[pos] < 0 || next[pos] < 0) continue;
    const MergeInfo* m = find_merge(ids[pos], ids[next[pos]]);
    if (!m || m->rank != rank) continue;  // stale entry
    const int32_t right = next[pos];
    ids[pos] = m->result;
    ids[right] = -1;
    next[pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = pos;
    push(prev[pos]);
    push(pos);
  }
  std::vector<int32_t> out;
  for (const int32_t id : ids) {
    if (id >= 0) out.push_back(id);
  }
  return out;
}

void BpeTokenizer::append_piece(std::string_view piece, std::vector<int32_t>& out) const {
  // Short pieces (words) take the simple loop; long ones need the heap.
  const std::vector<int32_t> ids =
      piece.size() <= 16 ? encode_piece_naive(piece) : encode_piece(piece);
  out.insert(out.end(), ids.begin(), ids.end());
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  for (const TextPiece& p : split_on_specials(text, special_texts_)) {
    if (p.special >= 0) {
      out.push_back(specials_[p.special].id);
    } else if (pre_split_) {
      for (const std::string_view word : pre_split(p.text)) append_piece(word, out);
    } else {
      append_piece(p.text, out);
    }
  }
  return out;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw std::invalid_argument("token id " + std::to_string(id) + " out of range [0, " +
                                  std::to_string(vocab_size()) + ")");
    }
    out += tokens_[id];
  }
  return out;
}

int32_t BpeTokenizer::special_id(std::string_view content) const {
  for (const Special& s : specials_) {
    if (s.content == content) return s.id;
  }
  return -1;
}

}  // namespace cpurich
