// dataset.h: from a text file to random (B, T) training batches.
//
// What it teaches: a language model learns from one long stream of token ids.
// We tokenize the corpus once and cache the ids in a small binary file; a
// header records what the ids were made from (a hash of the corpus bytes and
// of the tokenizer), so the cache is reused while both are unchanged and
// rebuilt otherwise. The last 10% of the stream is held out for validation.
// A batch is B windows of T+1 consecutive tokens at random offsets:
//     inputs  = window[0 .. T)      targets = window[1 .. T]
// i.e. at every position the model must predict the next token. Offsets come
// from a counter-based Rng, so "where we are in the data" is one integer that
// a checkpoint stores and a resumed run restores.
//
// Cache file layout (little-endian):
//   magic "CPRTOKS\0" (8 bytes) | u32 version | u32 bytes per id (2 or 4)
//   u32 vocab size | u32 reserved (0) | u64 count | u64 corpus hash
//   u64 tokenizer hash | count ids (uint16 when vocab <= 65536, else uint32)
//
// Pipeline position: text -> [tokens -> batches] -> tensors -> model -> samples.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/rng.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// 64-bit FNV-1a hash of bytes: tiny, and good enough to notice a changed file.
uint64_t fnv1a64(std::string_view bytes);

/// What build_or_load_tokens did.
struct TokenCacheResult {
  std::vector<int32_t> ids;  ///< the whole corpus as token ids
  bool reused = false;       ///< true if the cache file was valid and reused
};

/// Tokenizes corpus_text with tokenizer, reusing cache_path when its header
/// matches (same corpus hash, tokenizer hash and vocab), else rebuilding it
/// (written atomically). A corrupt or foreign cache file is rebuilt, not trusted.
TokenCacheResult build_or_load_tokens(std::string_view corpus_text, const Tokenizer& tokenizer,
                                      const std::string& cache_path);

/// Serialises ids into the cache format above (exposed for tests).
std::string encode_token_cache(std::span<const int32_t> ids, int32_t vocab_size,
                               uint64_t corpus_hash, uint64_t tokenizer_hash);

/// One batch: ids and targets are (B, T) row-major.
struct Batch {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
  int64_t B = 0, T = 0;
};

/// Random windows of one token stream (train or val split).
class TokenStream {
 public:
  /// Throws std::invalid_argument if the stream holds fewer than T+1 tokens
  /// (no window fits), naming both lengths.
  TokenStream(std::vector<int32_t> ids, int64_t T, uint64_t seed, std::string name);

  /// B windows at offsets drawn uniformly from [0, size - T - 1].
  Batch next_batch(int64_t B);
  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  std::span<const int32_t> ids() const { return ids_; }
  /// The sampling position: restoring it with set_position replays the same batches.
  uint64_t position() const { return rng_.counter(); }
  void set_position(uint64_t counter) { rng_.set_counter(counter); }

 private:
  std::vector<int32_t> ids_;
  int64_t T_;
  Rng rng_;
};

/// The train/val split: the last `val_fraction` of ids (at least T+1 tokens)
/// is validation, the rest training. Throws if either part is too short.
std::pair<std::vector<int32_t>, std::vector<int32_t>> split_train_val(std::span<const int32_t> ids,
                                                                      double val_fraction,
                                                                      int64_t T);

}  // namespace cpurich
