// memory_estimate.h: the bytes a model will need, from its config alone.
//
// What it teaches: what occupies memory in each use of a GPT with P
// parameters (L layers, width C, H heads, context T, vocabulary V, f32):
//   weights           4 P                P = V C + T C + L (12 C^2 + 13 C) + 2 C
//   training, per trainable parameter: gradient + AdamW's m and v = 12 bytes
//   training activations (kept for backward), per sequence of T tokens:
//                     4 T (L (24 C + 3 H T) + 3 V)
//     per layer and token: the layer norms, q k v, the attention output and
//     projection, the MLP's 4C hidden twice (before/after GELU), residuals
//     (about 24 C numbers), and the scores, softmax and dropout mask of H
//     rows of T (3 H T); then logits, their softmax and its gradient (3 V)
//   generation, per sequence: the KV cache 2 L T C floats, plus V logits
// These are estimates (temporaries come and go), meant to refuse a run that
// cannot fit before it allocates anything, not to budget to the byte.
//
// Pipeline position: config.json / TrainConfig -> [estimate] -> run or refuse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nn/config.h"

namespace cpurich {

/// The parts of an estimate, in bytes (doubles: a typo'd config may overflow int64).
struct MemoryEstimate {
  double weights = 0.0;
  double optimizer = 0.0;    ///< gradients + AdamW moments of the trainable parameters
  double activations = 0.0;  ///< training activations or the KV cache
  double total() const { return weights + optimizer + activations; }
};

/// P of the formula above (tied head).
double gpt_parameter_count(const GPTConfig& c);
/// Training `trainable` of the model's parameters on batches of `batch` sequences of `block`
/// tokens.
MemoryEstimate training_memory(const GPTConfig& c, double trainable, int64_t batch, int64_t block);
/// Generating `sequences` sequences at once, each up to `context` tokens.
MemoryEstimate inference_memory(const GPTConfig& c, int64_t sequences, int64_t context);

/// The config.json of a model directory, or nothing when it cannot be read
/// (the loader then reports why): lets a command check memory before loading.
std::optional<GPTConfig> peek_model_config(const std::string& dir);

/// Throws std::runtime_error "WHAT needs N GB (weights .., optimizer .., activations ..)
/// but only M GB is available" when the estimate exceeds available_bytes.
void check_fits_in_memory(const MemoryEstimate& need, int64_t available_bytes,
                          const std::string& what);
/// The same against util/mem_available.h; does nothing when that is unknown.
void check_fits_in_memory(const MemoryEstimate& need, const std::string& what);

}  // namespace cpurich
