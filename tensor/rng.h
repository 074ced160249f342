// rng.h: a seeded, counter-based random number generator.
//
// What it teaches: a counter-based generator computes the i-th random number
// as a pure function hash(seed, i), instead of stepping a hidden state. So the
// numbers do not depend on which thread draws them, or in which order: filling
// a tensor with 1 or 8 threads gives the same bits. This is the idea behind
// Philox / Random123 (used by PyTorch and JAX); we use the SplitMix64 finaliser,
// which is small enough to read and passes standard statistical tests.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace cpurich {

/// 2^64 / golden ratio: the step of SplitMix64's Weyl sequence.
inline constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

/// SplitMix64's output function: a bijection on 64 bits that mixes every input
/// bit into every output bit (constants from Stafford's "Mix13").
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// 64 well-mixed bits from (seed, counter): the counter-th SplitMix64 output of
/// the stream that starts at the scrambled seed (so nearby seeds give unrelated
/// streams). Inline: a loop over counters (dropout) pays no call, and the
/// compiler hoists the seed's scrambling out of the loop.
inline uint64_t hash64(uint64_t seed, uint64_t counter) {
  const uint64_t key = mix64(seed + kGolden);
  return mix64(key + (counter + 1) * kGolden);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  /// How many draws have been consumed; save it with the seed to resume a run.
  uint64_t counter() const { return counter_; }
  void set_counter(uint64_t c) { counter_ = c; }

  uint64_t next_u64();  ///< one draw
  double uniform();     ///< in [0, 1), 53 random bits
  double normal();      ///< standard normal (Box-Muller)
  /// Uniform integer in [0, n) (n > 0), without modulo bias.
  uint64_t below(uint64_t n);

  /// New tensor of N(mean, std^2) values; element i uses counters (c+2i, c+2i+1),
  /// so the result is independent of thread count. Advances the counter.
  Tensor normal(const Shape& shape, double mean = 0.0, double std = 1.0, DType dtype = DType::F32);
  /// New tensor of U[low, high) values; advances the counter by numel.
  Tensor uniform(const Shape& shape, double low = 0.0, double high = 1.0, DType dtype = DType::F32);

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

}  // namespace cpurich
