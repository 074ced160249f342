// kv_cache.h: the keys and values of every past token, kept between steps.
//
// What it teaches: in causal self-attention, token t's key and value depend
// only on tokens 0..t, so they never change once computed. Generating token
// t+1 needs the keys/values of ALL earlier tokens, but only the query of the
// newest one. Keeping them in a cache turns each decoding step from a full
// forward over the whole context, O(T) matrix products per layer, into ONE
// row's worth of products plus a dot product against T cached keys.
//
// Layout: for each layer and head, the values are a (capacity, head_dim)
// block (row j = token j's value) and the keys a TRANSPOSED (head_dim,
// capacity) block (column j = token j's key). The query's scores q . k_j are
// then computed for many j at once in SIMD lanes (see decode_ops.h), and both
// blocks are read as contiguous runs. Allocated once, sized to the model's
// context (n_positions); nothing is allocated while decoding.
//
// Pipeline position: tokens -> model -> [decode: KV cache] -> samples.
#pragma once

#include <cstdint>
#include <vector>

namespace cpurich {

/// Per layer and head: K (transposed) and V for positions 0..capacity-1.
class KVCache {
 public:
  KVCache() = default;
  /// Zero-filled cache for n_layer x n_head heads of head_dim floats.
  KVCache(int64_t n_layer, int64_t n_head, int64_t head_dim, int64_t capacity);

  /// Keys of one (layer, head), transposed: a (head_dim, capacity) row-major
  /// block, component i of token j's key at [i * capacity + j].
  float* keys(int64_t layer, int64_t head) { return k_.data() + block(layer, head); }
  /// Values of one (layer, head): a (capacity, head_dim) row-major block.
  float* values(int64_t layer, int64_t head) { return v_.data() + block(layer, head); }
  const float* keys(int64_t layer, int64_t head) const { return k_.data() + block(layer, head); }
  const float* values(int64_t layer, int64_t head) const { return v_.data() + block(layer, head); }

  /// Positions filled so far (the next token goes at index length()).
  int64_t length() const { return length_; }
  /// Marks the first n positions as valid (n <= capacity); shrinking is how a
  /// conversation rewinds to a shared prefix without recomputing it.
  void set_length(int64_t n);
  int64_t capacity() const { return capacity_; }
  int64_t head_dim() const { return head_dim_; }
  /// Bytes held by K and V together.
  int64_t bytes() const { return static_cast<int64_t>((k_.size() + v_.size()) * sizeof(float)); }

 private:
  int64_t block(int64_t layer, int64_t head) const {
    return (layer * n_head_ + head) * capacity_ * head_dim_;
  }
  int64_t n_head_ = 0, head_dim_ = 0, capacity_ = 0, length_ = 0;
  std::vector<float> k_, v_;
};

}  // namespace cpurich
