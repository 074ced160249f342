// tokenizer_bpe_train.cpp: learning BPE merges from a corpus.
//
// What it teaches: BPE training is one loop. Count every adjacent pair of
// symbols in the corpus, merge the most frequent pair (a, b) into a new token
// z everywhere, repeat until the vocabulary is full. train_bpe_naive is that
// loop, written plainly; train_bpe gives the same merges much faster (its
// comment says what it changes).
// With pre-split, the corpus is first reduced to its distinct words with
// their frequencies (a word seen 5,000 times is stored once with weight 5,000),
// which makes N the size of the word table: a few tens of KB for 1 MB of English.
// Ties (equal counts) go to the smallest (left id, right id) pair, so the
// result is the same on every platform, and identical for both trainers.
//
// Pipeline position: text -> [tokenizer training] -> tokens -> model.
#include <algorithm>
#include <climits>
#include <map>
#include <queue>
#include <stdexcept>

#include "tokenizer/tokenizer_bpe.h"

namespace cpurich {

namespace {

using Merge = BpeTokenizer::Merge;

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t left_of(uint64_t key) {
  return static_cast<int32_t>(key >> 32);
}
int32_t right_of(uint64_t key) {
  return static_cast<int32_t>(key & 0xFFFFFFFFu);
}

// Distinct words (or whole texts between specials) and how often each occurs,
// sorted by bytes so nothing depends on hash-table order.
struct WordTable {
  std::vector<std::string_view> words;
  std::vector<int64_t> counts;
};

WordTable count_words(std::string_view corpus, const BpeOptions& o) {
  std::unordered_map<std::string_view, int64_t> freq;
  for (const TextPiece& p : split_on_specials(corpus, o.specials)) {
    if (p.special >= 0) continue;  // special tokens are never merged
    if (!o.pre_split) {
      ++freq[p.text];
      continue;
    }
    for (const std::string_view w : pre_split(p.text)) ++freq[w];
  }
  std::vector<std::pair<std::string_view, int64_t>> sorted(freq.begin(), freq.end());
  std::sort(sorted.begin(), sorted.end());
  WordTable table;
  for (const auto& [w, c] : sorted) {
    table.words.push_back(w);
    table.counts.push_back(c);
  }
  return table;
}

// The growing vocabulary: 256 bytes, then one token per new merge result.
struct Vocab {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, int32_t> id_of;
  std::vector<Merge> merges;

  Vocab() {
    for (int b = 0; b < 256; ++b) add(std::string(1, static_cast<char>(b)));
  }
  int32_t add(const std::string& bytes) {
    const auto [it, inserted] = id_of.emplace(bytes, static_cast<int32_t>(tokens.size()));
    if (inserted) tokens.push_back(bytes);
    return it->second;
  }
  // Records merge (a, b); the result reuses an existing token with the same
  // bytes (e.g. "ab"+"c" learned after "a"+"bc"), so token bytes stay unique.
  int32_t merge(int32_t a, int32_t b) {
    merges.push_back({a, b});
    return add(tokens[a] + tokens[b]);
  }
};

int32_t target_tokens(const BpeOptions& o) {
  const auto n_special = static_cast<int32_t>(o.specials.size());
  if (o.vocab_size < 256 + n_special) {
    throw std::invalid_argument("bpe: vocab size " + std::to_string(o.vocab_size) +
                                " is below 256 bytes + " + std::to_string(n_special) +
                                " special tokens");
  }
  std::vector<std::string> s = o.specials;
  std::sort(s.begin(), s.end());
  if (std::adjacent_find(s.begin(), s.end()) != s.end() ||
      std::find(s.begin(), s.end(), "") != s.end()) {
    throw std::invalid_argument("bpe: special tokens must be distinct and non-empty");
  }
  return o.vocab_size - n_special;
}

BpeTokenizer finish(Vocab&& v, const BpeOptions& o) {
  std::vector<BpeTokenizer::Special> specials;
  for (const std::string& s : o.specials) {
    specials.push_back({s, static_cast<int32_t>(v.tokens.size())});
    v.tokens.push_back(s);
  }
  return BpeTokenizer(std::move(v.tokens), std::move(v.merges), std::move(specials), o.pre_split);
}

}  // namespace

// The textbook trainer: recount every adjacent pair of the whole corpus
// after each merge, O(M * N) for M merges over N symbols (minutes for a 1 MB
// corpus without pre-split and 700 merges).
BpeTokenizer train_bpe_naive(std::string_view corpus, const BpeOptions& options) {
  const int32_t target = target_tokens(options);
  const WordTable table = count_words(corpus, options);
  std::vector<std::vector<int32_t>> words;
  for (const std::string_view w : table.words) {
    words.emplace_back();
    for (const char c : w) words.back().push_back(static_cast<unsigned char>(c));
  }
  Vocab v;
  //! [bpe_merge_loop]
  while (static_cast<int32_t>(v.tokens.size()) < target) {
    std::map<uint64_t, int64_t> counts;  // recount everything: O(N) per merge
    for (std::size_t wi = 0; wi < words.size(); ++wi) {
      for (std::size_t i = 0; i + 1 < words[wi].size(); ++i) {
        counts[pair_key(words[wi][i], words[wi][i + 1])] += table.counts[wi];
      }
    }
    uint64_t best_key = 0;
    int64_t best_count = 0;
    for (const auto& [k, c] : counts) {
      if (c > best_count) {  // ascending keys: ties keep the smallest
        best_key = k;
        best_count = c;
      }
    }
    if (best_count < 2) break;  // a pair seen once does not compress anything
    const int32_t a = left_of(best_key), b = right_of(best_key);
    const int32_t z = v.merge(a, b);
    for (auto& w : words) {  // replace every (a, b) by z, left to right
      std::vector<int32_t> merged;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const bool hit = i + 1 < w.size() && w[i] == a && w[i + 1] == b;
        merged.push_back(hit ? z : w[i]);
        if (hit) ++i;
      }
      w = std::move(merged);
    }
  }
  //! [bpe_merge_loop]
  return finish(std::move(v), options);
}

// ---- the fast twin: train_bpe ----
// What it changes: instead of recounting all pairs after each merge, it keeps
// the counts up to date and only visits the places where the merged pair
// occurs. Data structures:
//   - the corpus as one array of symbols with prev/next links (a merge
//     deletes the right symbol of the pair by relinking, O(1));
//   - count[pair]: occurrences of each pair, weighted by word frequency;
//   - where[pair]: positions where the pair may occur (some become stale;
//     we check each one before using it);
//   - a max-heap of (count, pair) with lazy deletion: after a change we push
//     the new count; a popped entry whose count is out of date is skipped.
// A merge of pair (a,b) -> z visits only the k positions of (a,b): for each,
// the neighbour pairs (x,a) and (b,y) lose one occurrence and (x,z), (z,y)
// gain one. Every valid visit deletes a symbol, so the k summed over all
// merges is at most N, and the stale positions are at most 2 per valid
// visit. Total: O(N log N) for the per-merge sorts + O(M log H) heap work,
// H = heap size, instead of O(M * N).

namespace {

// Max-heap order: larger count first, then the smaller pair key.
struct HeapEntry {
  int64_t count;
  uint64_t key;
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : key > o.key;
  }
};

// The incremental pair statistics over the linked symbol array.
struct PairStats {
  std::vector<int32_t> sym, prev, next;  // sym[i] = -1 once deleted
  std::vector<int64_t> weight;           // frequency of the word holding i
  std::unordered_map<uint64_t, int64_t> count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  std::priority_queue<HeapEntry> heap;
  std::vector<uint64_t> changed;  // pairs whose count changed in this merge

  void add(int32_t a, int32_t b, int64_t w, int32_t pos) {
    const uint64_t k = pair_key(a, b);
    count[k] += w;
    changed.push_back(k);
    if (w > 0) where[k].push_back(pos);
  }
  void publish_changes() {  // push the new counts of the changed pairs
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    for (const uint64_t k : changed) {
      if (count[k] > 0) heap.push({count[k], k});
    }
    changed.clear();
  }
  // Most frequent pair with its up-to-date count, skipping stale heap entries.
  HeapEntry best() {
    while (!heap.empty()) {
      const HeapEntry top = heap.top();
      const auto it = count.find(top.key);
      if (it != count.end() && it->second == top.count) return top;
      heap.pop();
    }
    return {0, 0};
  }
  void merge(uint64_t key, int32_t z);
};

void PairStats::merge(uint64_t key, int32_t z) {
  const int32_t a = left_of(key), b = right_of(key);
  std::vector<int32_t> positions = std::move(where[key]);
  where.erase(key);
  std::sort(positions.begin(), positions.end());  // left to right, as the naive loop
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  for (const int32_t pos : positions) {
    const int32_t r = next[pos];
    if (sym[pos] != a || r < 0 || sym[r] != b) continue;  // stale position
    const int64_t w = weight[pos];
    const int32_t p = prev[pos], nn = next[r];
    if (p >= 0) add(sym[p], a, -w, p);
    if (nn >= 0) add(b, sym[nn], -w, r);
    add(a, b, -w, pos);
    sym[pos] = z;  // the pair becomes one symbol; r is unlinked
    sym[r] = -1;
    next[pos] = nn;
    if (nn >= 0) prev[nn] = pos;
    if (p >= 0) add(sym[p], z, w, p);
    if (nn >= 0) add(z, sym[nn], w, pos);
  }
  publish_changes();
}

}  // namespace

BpeTokenizer train_bpe(std::string_view corpus, const BpeOptions& options) {
  const int32_t target = target_tokens(options);
  const WordTable table = count_words(corpus, options);
  PairStats st;
  std::size_t total = 0;
  for (const std::string_view w : table.words) total += w.size();
  if (total >= static_cast<std::size_t>(INT32_MAX))
    throw std::invalid_argument("bpe: corpus too large");
  for (std::size_t wi = 0; wi < table.words.size(); ++wi) {
    const std::string_view w = table.words[wi];
    const auto start = static_cast<int32_t>(st.sym.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      const auto pos = static_cast<int32_t>(st.sym.size());
      st.sym.push_back(static_cast<unsigned char>(w[i]));
      st.prev.push_back(pos == start ? -1 : pos - 1);
      st.next.push_back(i + 1 < w.size() ? pos + 1 : -1);
      st.weight.push_back(table.counts[wi]);
    }
  }
  for (std::size_t i = 0; i < st.sym.size(); ++i) {
    if (st.next[i] >= 0)
      st.add(st.sym[i], st.sym[st.next[i]], st.weight[i], static_cast<int32_t>(i));
  }
  st.publish_changes();
  Vocab v;
  while (static_cast<int32_t>(v.tokens.size()) < target) {
    const HeapEntry top = st.best();
    if (top.count < 2) break;  // a pair seen once does not compress anything
    st.merge(top.key, v.merge(left_of(top.key), right_of(top.key)));
  }
  return finish(std::move(v), options);
}

}  // namespace cpurich
