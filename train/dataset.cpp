// dataset.cpp: the token cache and random batch windows (see dataset.h).
#include "train/dataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "util/file_util.h"

namespace cpurich {

namespace {

constexpr char kMagic[8] = {'C', 'P', 'R', 'T', 'O', 'K', 'S', '\0'};
constexpr uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 8 + 4 * 4 + 3 * 8;  // magic, 4 x u32, 3 x u64

struct CacheHeader {
  uint32_t version = 0, id_bytes = 0, vocab = 0, reserved = 0;
  uint64_t count = 0, corpus_hash = 0, tokenizer_hash = 0;
};

// Little-endian append/read of an unsigned integer of `n` bytes.
void put_le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t get_le(std::string_view in, std::size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
  return v;
}

// Parses the header; false when the bytes are not a complete cache file of ours.
bool parse_header(std::string_view bytes, CacheHeader& h) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, 8) != 0) return false;
  h.version = static_cast<uint32_t>(get_le(bytes, 8, 4));
  h.id_bytes = static_cast<uint32_t>(get_le(bytes, 12, 4));
  h.vocab = static_cast<uint32_t>(get_le(bytes, 16, 4));
  h.reserved = static_cast<uint32_t>(get_le(bytes, 20, 4));
  h.count = get_le(bytes, 24, 8);
  h.corpus_hash = get_le(bytes, 32, 8);
  h.tokenizer_hash = get_le(bytes, 40, 8);
  if (h.version != kVersion || (h.id_bytes != 2 && h.id_bytes != 4)) return false;
  // Compare by division so a huge count cannot overflow the size check.
  const uint64_t payload = bytes.size() - kHeaderBytes;
  return payload % h.id_bytes == 0 && payload / h.id_bytes == h.count;
}

// Decodes the ids after a valid header; false if any id is out of the vocabulary.
bool decode_ids(std::string_view bytes, const CacheHeader& h, std::vector<int32_t>& ids) {
  ids.resize(h.count);
  for (uint64_t i = 0; i < h.count; ++i) {
    const uint64_t id = get_le(bytes, kHeaderBytes + i * h.id_bytes, static_cast<int>(h.id_bytes));
    if (id >= h.vocab) return false;
    ids[i] = static_cast<int32_t>(id);
  }
  return true;
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;  // FNV offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;  // FNV prime
  }
  return h;
}

std::string encode_token_cache(std::span<const int32_t> ids, int32_t vocab_size,
                               uint64_t corpus_hash, uint64_t tokenizer_hash) {
  const int id_bytes = vocab_size <= 65536 ? 2 : 4;  // uint16 holds ids 0..65535
  std::string out(kMagic, 8);
  put_le(out, kVersion, 4);
  put_le(out, static_cast<uint64_t>(id_bytes), 4);
  put_le(out, static_cast<uint64_t>(vocab_size), 4);
  put_le(out, 0, 4);
  put_le(out, ids.size(), 8);
  put_le(out, corpus_hash, 8);
  put_le(out, tokenizer_hash, 8);
  out.reserve(out.size() + ids.size() * id_bytes);
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size)
      throw std::out_of_range("token id " + std::to_string(id) + " out of vocabulary");
    put_le(out, static_cast<uint64_t>(id), id_bytes);
  }
  return out;
}

TokenCacheResult build_or_load_tokens(std::string_view corpus_text, const Tokenizer& tokenizer,
                                      const std::string& cache_path) {
  const uint64_t corpus_hash = fnv1a64(corpus_text);
  const uint64_t tok_hash = fnv1a64(tokenizer.to_json().dump());
  TokenCacheResult result;
  if (std::filesystem::exists(cache_path)) {
    const std::string bytes = read_file(cache_path);
    CacheHeader h;
    if (parse_header(bytes, h) && h.corpus_hash == corpus_hash && h.tokenizer_hash == tok_hash &&
        h.vocab == static_cast<uint32_t>(tokenizer.vocab_size()) &&
        decode_ids(bytes, h, result.ids)) {
      result.reused = true;
      return result;
    }
  }
  result.ids = tokenizer.encode(corpus_text);
  write_file_atomic(cache_path,
                    encode_token_cache(result.ids, tokenizer.vocab_size(), corpus_hash, tok_hash));
  return result;
}

std::pair<std::vector<int32_t>, std::vector<int32_t>> split_train_val(std::span<const int32_t> ids,
                                                                      double val_fraction,
                                                                      int64_t T) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t n_val = static_cast<int64_t>(static_cast<double>(n) * val_fraction);
  const int64_t n_train = n - n_val;
  if (n_val < T + 1 || n_train < T + 1)
    throw std::invalid_argument(
        "corpus too short: " + std::to_string(n) + " tokens give " + std::to_string(n_train) +
        " train / " + std::to_string(n_val) +
        " val tokens, each split needs at least block_size+1 = " + std::to_string(T + 1));
  return {std::vector<int32_t>(ids.begin(), ids.begin() + n_train),
          std::vector<int32_t>(ids.begin() + n_train, ids.end())};
}

TokenStream::TokenStream(std::vector<int32_t> ids, int64_t T, uint64_t seed, std::string name)
    : ids_(std::move(ids)), T_(T), rng_(seed) {
  if (T < 1 || size() < T + 1)
    throw std::invalid_argument(name + " split has " + std::to_string(size()) +
                                " tokens; a window of block_size+1 = " + std::to_string(T + 1) +
                                " does not fit");
}

Batch TokenStream::next_batch(int64_t B) {
  Batch b;
  b.B = B;
  b.T = T_;
  b.inputs.resize(static_cast<std::size_t>(B * T_));
  b.targets.resize(static_cast<std::size_t>(B * T_));
  const uint64_t n_starts = static_cast<uint64_t>(size() - T_);  // starts 0 .. size-T-1
  for (int64_t r = 0; r < B; ++r) {
    const int64_t start = static_cast<int64_t>(rng_.below(n_starts));
    std::copy_n(ids_.begin() + start, T_, b.inputs.begin() + r * T_);
    std::copy_n(ids_.begin() + start + 1, T_, b.targets.begin() + r * T_);
  }
  return b;
}

}  // namespace cpurich
