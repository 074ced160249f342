// kv_cache.h: the keys and values of every past token, kept between steps.
//
// What it teaches: in causal self-attention, token t's key and value depend
// only on tokens 0..t, so they never change once computed. Generating token
// t+1 needs the keys/values of ALL earlier tokens, but only the query of the
// newest one. Keeping them in a cache turns each decoding step from a full
// forward over the whole context, O(T) matrix products per layer, into ONE
// row's worth of products plus a dot product against T cached keys.
//
// Layout, for each layer and head:
//   values  (capacity, head_dim): row j is token j's value, so the weighted
//           sum over positions, out = sum_j p_j v_j, reads one contiguous run;
//   keys    blocks of kKeyBlock = 64 positions, each block (head_dim, 64):
//           component i of token j's key at [(j / 64) * head_dim * 64 +
//           i * 64 + j % 64]. The scores q . k_j of 64 positions are then
//           computed side by side in SIMD lanes (see decode_ops.h) from one
//           contiguous 8 KB block, the same trick as PackedLinear's panels.
// Allocated once, sized to the model's context (n_positions, keys rounded up
// to whole blocks); nothing is allocated while decoding.
//
// Pipeline position: tokens -> model -> [decode: KV cache] -> samples.
#pragma once

#include <cstdint>
#include <vector>

namespace cpurich {

/// Per layer and head: K (in blocks of 64 positions) and V for positions
/// 0..capacity-1.
/// The sizes of a KV cache: n_layer x n_head heads of head_dim floats, for
/// `capacity` positions. Built by name: KVCacheShape{.n_layer = 4, .n_head = 4, ...}.
struct KVCacheShape {
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t head_dim = 0;
  int64_t capacity = 0;
};

class KVCache {
 public:
  /// Positions per key block.
  static constexpr int64_t kKeyBlock = 64;

  KVCache() = default;
  /// Zero-filled cache of the given shape (every size must be positive).
  explicit KVCache(const KVCacheShape& shape);

  /// Stores token pos's key k (head_dim,) and value v (head_dim,) for one
  /// (layer, head); pos < capacity (not checked: the decoder's hot path).
  void put(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);
  /// Keys of one (layer, head): ceil(capacity / 64) blocks of (head_dim, 64).
  const float* keys(int64_t layer, int64_t head) const {
    return k_.data() + (layer * n_head_ + head) * key_stride();
  }
  /// Values of one (layer, head): a (capacity, head_dim) row-major block.
  const float* values(int64_t layer, int64_t head) const {
    return v_.data() + (layer * n_head_ + head) * capacity_ * head_dim_;
  }

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
  // Floats per (layer, head) of keys: capacity rounded up to whole blocks.
  int64_t key_stride() const {
    return (capacity_ + kKeyBlock - 1) / kKeyBlock * kKeyBlock * head_dim_;
  }
  int64_t n_head_ = 0, head_dim_ = 0, capacity_ = 0, length_ = 0;
  std::vector<float> k_, v_;
};

}  // namespace cpurich
