// kv_cache.cpp: allocation and bookkeeping of the KV cache (see kv_cache.h).
#include "infer/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace cpurich {

KVCache::KVCache(const KVCacheShape& shape)
    : n_head_(shape.n_head), head_dim_(shape.head_dim), capacity_(shape.capacity) {
  if (shape.n_layer <= 0 || shape.n_head <= 0 || shape.head_dim <= 0 || shape.capacity <= 0)
    throw std::invalid_argument("KVCache: all sizes must be positive");
  k_.assign(static_cast<size_t>(shape.n_layer * shape.n_head * key_stride()), 0.0f);
  v_.assign(static_cast<size_t>(shape.n_layer * shape.n_head * shape.capacity * shape.head_dim),
            0.0f);
}

void KVCache::put(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v) {
  float* block =
      k_.data() + (layer * n_head_ + head) * key_stride() + pos / kKeyBlock * head_dim_ * kKeyBlock;
  for (int64_t i = 0; i < head_dim_; ++i) block[i * kKeyBlock + pos % kKeyBlock] = k[i];
  std::copy_n(v, head_dim_, v_.data() + ((layer * n_head_ + head) * capacity_ + pos) * head_dim_);
}

void KVCache::set_length(int64_t n) {
  if (n < 0 || n > capacity_)
    throw std::out_of_range("KVCache: length " + std::to_string(n) + " outside [0, " +
                            std::to_string(capacity_) + "]");
  length_ = n;
}

}  // namespace cpurich
