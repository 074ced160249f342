// sampling.h: turning the model's next-token logits into a token.
//
// What it teaches: the model gives a score (logit) z_i for every token i of
// the vocabulary; softmax turns them into probabilities p_i = e^{z_i} / sum_j e^{z_j}.
// How we pick from p is a choice, and it changes the text a lot:
//   greedy              always the most likely token (deterministic, repetitive)
//   temperature T       p_i ~ e^{z_i / T}: T < 1 sharpens, T > 1 flattens
//   top-k               keep only the k most likely tokens
//   top-p (nucleus)     keep the smallest set of most likely tokens whose
//                       probabilities add up to at least p
//   min-p               keep tokens with p_i >= min_p * max_j p_j
//   repetition penalty  make tokens already in the context less likely
// Each filter sets the logits it removes to -inf (probability 0). They are
// applied in that order (penalty, temperature, top-k, top-p, min-p), then we
// draw from what is left with the seeded counter-based Rng (tensor/rng.h): the
// same seed gives the same text.
//
// Pipeline position: tokens -> model -> logits -> [sampler] -> token -> text.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tensor/rng.h"

namespace cpurich {

/// Every knob of the sampler. The defaults sample from the model's plain
/// distribution (temperature 1, no filter).
struct SamplerOptions {
  double temperature = 1.0;         ///< 0 = greedy; must be >= 0 and not NaN
  int64_t top_k = -1;               ///< -1 = off; else 1..vocab
  double top_p = 1.0;               ///< in (0, 1]; 1 = off
  double min_p = 0.0;               ///< in [0, 1); 0 = off
  double repetition_penalty = 1.0;  ///< > 0; 1 = off
  uint64_t seed = 0;                ///< the Rng seed

  /// Throws std::invalid_argument with a message naming the bad value
  /// (vocab_size is needed to check top_k).
  void validate(int64_t vocab_size) const;
};

/// Index of the largest logit (the first one on ties).
int32_t argmax(std::span<const float> logits);

/// CTRL-style penalty (Keskar et al. 2019): for each distinct token already in
/// `context`, z > 0 becomes z / penalty and z < 0 becomes z * penalty, so with
/// penalty > 1 the token always gets less likely, whatever the sign of z.
/// seen (vocab,) is scratch space.
void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> context,
                              double penalty, std::vector<uint8_t>& seen);

/// z_i /= temperature (temperature > 0).
void apply_temperature(std::span<float> logits, double temperature);

/// Keeps the k largest logits (ties broken by the lower index), sets the rest
/// to -inf. order is scratch space.
void top_k_filter(std::span<float> logits, int64_t k, std::vector<int32_t>& order);

/// Nucleus: sorts tokens by probability, keeps the shortest prefix whose
/// probabilities sum to >= p (at least one token), sets the rest to -inf.
void top_p_filter(std::span<float> logits, double p, std::vector<int32_t>& order);

/// Keeps tokens with p_i >= min_p * p_max, i.e. z_i >= z_max + log(min_p).
void min_p_filter(std::span<float> logits, double min_p);

/// Draws i with probability softmax(logits)_i using u in [0, 1): the first i
/// whose cumulative probability exceeds u. -inf logits are never drawn.
int32_t sample_from_logits(std::span<const float> logits, double u);

/// The whole chain with its scratch buffers and its Rng: one object per
/// generation. next() allocates nothing once the buffers have grown to the
/// vocabulary size (after the first call).
class Sampler {
 public:
  /// Validates options (throws std::invalid_argument).
  Sampler(const SamplerOptions& options, int64_t vocab_size);
  /// Picks the next token. logits (V,) is modified in place (filters);
  /// context is the tokens the model has seen (for the repetition penalty).
  int32_t next(std::span<float> logits, std::span<const int32_t> context);
  const SamplerOptions& options() const { return options_; }

 private:
  SamplerOptions options_;
  Rng rng_;
  std::vector<uint8_t> seen_;
  std::vector<int32_t> order_;
};

}  // namespace cpurich
