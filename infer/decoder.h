// decoder.h: a GPT-2 forward pass for generation, with a KV cache and no autograd.
//
// What it teaches: generation runs the model in two phases.
//   prefill  the whole prompt at once: T rows through every layer, filling
//            the KV cache with the prompt's keys and values;
//   decode   one new token per step: ONE row through every layer, its query
//            attending over the cached keys/values of all earlier tokens.
// The math is exactly nn/gpt.h's (pre-LayerNorm blocks, GELU tanh form,
// logits = ln_f(x) @ wte^T), computed directly on the model's weight tensors
// (Hugging Face names, see nn/gpt.h). Matrices given quantized stay packed and
// run through tensor/quant_matvec.h (QuantLinear); biases, LayerNorms and wpe
// stay f32. There is no graph to record, and every
// buffer (activations, cache, logits) is allocated once in the constructor, so
// a decoding step allocates nothing.
//
// Pipeline position: tokens -> model -> [decoder] -> logits -> sampler -> text.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "infer/kv_cache.h"
#include "infer/matvec.h"
#include "nn/config.h"
#include "tensor/quant_formats.h"
#include "tensor/tensor.h"

namespace cpurich {

class GPT;

/// A GPT-2 model prepared for generation: repacked weights + KV cache + buffers.
class Decoder {
 public:
  /// From a config and a state dict with Hugging Face GPT-2 names; throws
  /// std::invalid_argument naming any missing or mis-shaped tensor.
  /// `quantized` holds the matrices of a quantized model under the same names
  /// ("h.0.attn.c_attn.weight", "wte.weight"), each as (out, in) = the
  /// transpose of the Conv1D weight (wte as stored, (V, C)); a name found
  /// there is used instead of its f32 tensor in `weights`.
  Decoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights,
          const std::map<std::string, QuantMatrix>& quantized);
  Decoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights);
  /// From a model (copies its weights: later training does not affect us).
  explicit Decoder(const GPT& model, const std::map<std::string, QuantMatrix>& quantized = {});

  const GPTConfig& config() const { return config_; }
  /// Tokens currently in the cache (the context the next token will see).
  std::span<const int32_t> tokens() const { return {tokens_.data(), tokens_.size()}; }
  int64_t length() const { return static_cast<int64_t>(tokens_.size()); }
  /// Room left before the context window (n_positions) is full.
  int64_t remaining() const { return config_.n_positions - length(); }

  /// Forgets every cached token.
  void reset();
  /// Keeps only the first n cached tokens (n <= length()).
  void truncate(int64_t n);
  /// Runs ids at positions length(), length()+1, ...: fills their keys and
  /// values into the cache and returns the next-token logits (V,) after the
  /// last one. One id is a decode step; many ids are a prefill. Throws
  /// std::invalid_argument on an empty span, an id outside [0, vocab) or when
  /// the context would exceed n_positions.
  std::span<const float> append(std::span<const int32_t> ids);
  /// One decode step: append({id}).
  std::span<const float> step(int32_t id) { return append({&id, 1}); }
  /// Makes the cache hold exactly ids, reusing the longest cached prefix (a
  /// chat turn only computes its new tokens); returns the last logits.
  std::span<const float> sync(std::span<const int32_t> ids);
  /// The logits returned by the last append (V,).
  std::span<const float> logits() const { return {logits_.data(), logits_.size()}; }

  /// Bytes of weights a decode step reads (all matrices, biases, the head).
  int64_t weight_bytes_per_token() const;
  /// Weight multiply-adds per call below which append() runs on one thread.
  /// A decode step split over threads opens ~5 parallel loops per layer, each
  /// a hand-off between threads (~1 us), and a tiny model's whole step is
  /// ~60 us of work. Default 2^21; 0 = always parallel (the tests use it to
  /// exercise the threads).
  void set_parallel_threshold(int64_t macs) { parallel_threshold_ = macs; }
  /// Bytes of the KV cache.
  int64_t cache_bytes() const { return cache_.bytes(); }

 private:
  /// One Linear layer, f32 panels or quantized blocks.
  struct Linear {
    PackedLinear f32;
    QuantLinear q;
    bool quantized = false;
    int64_t bytes() const;
  };
  struct Layer {
    std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
    Linear attn, attn_proj, fc, fc_proj;
  };
  void forward_rows(const int32_t* ids, int64_t T);
  // y (T,N) = epilogue(x (T,C) @ W + b), in parallel over output columns.
  void linear(const Linear& L, const float* x, int64_t T, float* y, Epilogue ep);
  // Prepares x (T,C) for a quantized matrix of `format` into acts_.
  void prepare(QuantFormat format, const float* x, int64_t T, int64_t C);
  const float* norm_rows(const float* x, int64_t T, const float* w, const float* b);
  void layer_forward(int64_t l, int64_t T, int64_t pos0);

  GPTConfig config_;
  std::vector<float> wte_, wpe_, lnf_w_, lnf_b_;  // (V,C), (P,C), (C,), (C,)
  QuantMatrix wte_q_;                             // (V,C) when wte is quantized
  bool wte_quantized_ = false;
  std::vector<float> wte_row_;  // (C,) one dequantized embedding row
  QuantActivations acts_;       // the input of the current quantized product
  std::vector<float> tmp_;      // (P,C) raw products before a residual add
  std::vector<Layer> layers_;
  KVCache cache_;
  std::vector<int32_t> tokens_;  // reserved to n_positions
  // Activation buffers for up to n_positions rows, allocated once:
  std::vector<float> x_, xn_, qkv_, att_, fc_;  // (P,C) (P,C) (P,3C) (P,C) (P,4C)
  std::vector<float> scores_;                   // (H, P) attention scratch, one row per head
  std::vector<float> logits_;                   // (V,)
  bool parallel_ = true;                        // this append() uses the pool
  int64_t parallel_threshold_ = int64_t{1} << 21;
};

}  // namespace cpurich
