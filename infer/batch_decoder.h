// batch_decoder.h: many sequences decoded together, one forward per step,
// each with its own KV cache and its own LoRA adapter (or none).
//
// What it teaches: at batch 1 a decode step reads every weight once to do
// ONE multiply-add with it (matvec.h): the step is bound by memory, not by
// arithmetic. Stack the next rows of B sequences into one (B, C) matrix and
// the same weight read serves B rows: x (B,C) @ W (C,N) costs about one pass
// over W, not B of them. That is continuous batching (Orca, vLLM): sequences
// join and leave the batch at token boundaries, and every step runs one
// forward over the rows of all active sequences:
//   - the Linear layers are shared: one linear_panels call over all rows;
//   - attention is per sequence: row t of sequence s attends to s's own
//     cache, positions 0..pos(t) (LayerNorm, GELU are per row anyway);
//   - the head runs on the last row of each sequence.
// A sequence may bring several rows in one step (a chunk of its prompt:
// chunked prefill), so a long prompt is spread over steps instead of stalling
// the sequences that are decoding.
//
// Many adapters over one base (S-LoRA, Punica): an adapter changes a layer by
// y = x W + b + s (x A^T) B^T. The base product x W is shared by all rows;
// each row then adds its own adapter's low-rank term ("gathered": row i uses
// the A, B of its sequence's adapter), r (in + out) multiply-adds per row
// against in * out for W, so a batch mixing adapters costs about the same as
// a batch on one. Unlike merging (W' = W + s A^T B^T), nothing is copied per
// adapter and the base weights stay shared.
//
// Numbers: every row of the base model is computed by exactly the
// operations of Decoder (same kernels, same summation order, whatever the
// other rows are), so a sequence without adapter gets bitwise Decoder's
// logits, in any batch and any chunking. A row with an adapter adds the
// low-rank term after the base product and before the epilogue (GELU,
// residual add), the order of y = x W + b + s (x A^T) B^T; that is close to,
// not bitwise, a Decoder on merged weights (another rounding of W').
//
// Pipeline position: requests -> scheduler -> [batched decoder] -> logits -> samplers.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "infer/kv_cache.h"
#include "infer/matvec.h"
#include "nn/config.h"
#include "tensor/tensor.h"

namespace cpurich {

class GPT;

/// One adapted layer's factors: A (r, in), B (out, r), scale s.
struct LoraFactors {
  int64_t rank = 0;
  float scale = 1.0f;
  std::vector<float> A;  ///< (r, in) row-major
  std::vector<float> B;  ///< (out, r) row-major
};

/// An adapter as the decoder uses it: module name ("h.0.attn.c_attn") -> factors.
using LoraWeights = std::map<std::string, LoraFactors>;

/// Copies the adapters attached to `model` (nn/lora.h) and detaches them, so
/// the model is the plain base again (a server loads each adapter onto the
/// same base, takes it, and loads the next).
LoraWeights take_lora_weights(GPT& model);

/// Sizes of a BatchDecoder.
struct BatchDecoderOptions {
  int64_t max_slots = 8;   ///< sequences open at once (each owns a full KV cache)
  int64_t max_rows = 128;  ///< rows (tokens) in one forward, over all sequences
};

/// One sequence's share of a step: ids appended at its next positions.
struct BatchItem {
  int64_t slot = 0;
  std::span<const int32_t> ids;  ///< 1 = a decode step; more = a prompt chunk
};

/// A GPT-2 model prepared for batched generation.
class BatchDecoder {
 public:
  /// From a config and a state dict with Hugging Face GPT-2 names (as
  /// Decoder); throws std::invalid_argument on missing or mis-shaped tensors
  /// or options < 1.
  BatchDecoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights,
               const BatchDecoderOptions& options);
  /// From a model without attached adapters (copies its weights).
  BatchDecoder(const GPT& model, const BatchDecoderOptions& options);

  const GPTConfig& config() const { return config_; }
  const BatchDecoderOptions& options() const { return options_; }

  /// Registers an adapter; returns its id (0, 1, ...). Throws
  /// std::invalid_argument on an unknown module or mis-shaped factors.
  int32_t add_adapter(const LoraWeights& adapter);
  int32_t num_adapters() const { return static_cast<int32_t>(adapters_.size()); }

  /// Opens an empty sequence using adapter id (-1 = the base); returns its
  /// slot. Throws std::runtime_error when every slot is taken and
  /// std::invalid_argument on an unknown adapter.
  int64_t open(int32_t adapter = -1);
  /// Frees a slot (its cache is forgotten).
  void close(int64_t slot);
  /// Keeps only the first n tokens of an open slot's cache (0 <= n <=
  /// length(slot)): a conversation rewinds to a shared prefix without
  /// recomputing it. Throws std::out_of_range otherwise.
  void truncate(int64_t slot, int64_t n);
  int64_t free_slots() const;

  /// Tokens in a slot's cache, and room left before n_positions.
  std::span<const int32_t> tokens(int64_t slot) const;
  int64_t length(int64_t slot) const { return static_cast<int64_t>(tokens(slot).size()); }
  int64_t remaining(int64_t slot) const { return config_.n_positions - length(slot); }

  /// One batched forward: every item's ids go through the model at its
  /// slot's next positions (keys and values into its cache); afterwards
  /// logits(slot) holds the next-token logits after each item's last id.
  /// Throws std::invalid_argument (before computing anything) on a closed or
  /// repeated slot, empty ids, an id outside [0, vocab), a context overflow,
  /// more than max_rows rows in total.
  void forward(std::span<const BatchItem> items);
  /// The logits (V,) after the slot's last forward.
  std::span<const float> logits(int64_t slot) const;

  /// As Decoder::set_parallel_threshold: weight multiply-adds per forward
  /// below which it runs on the caller's thread (0 = always parallel).
  void set_parallel_threshold(int64_t macs) { parallel_threshold_ = macs; }

 private:
  struct Layer {
    std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
    PackedLinear attn, attn_proj, fc, fc_proj;
  };
  struct Slot {
    bool open = false;
    int32_t adapter = -1;
    KVCache cache;
    std::vector<int32_t> tokens;  // reserved to n_positions
  };
  // The four adapted Linears of a block, in linear_modules order.
  enum Kind { kAttn = 0, kAttnProj = 1, kFc = 2, kFcProj = 3 };
  void check(std::span<const BatchItem> items) const;
  void norm_rows(const float* x, int64_t R, const float* w, const float* b);
  void linear(int64_t l, Kind kind, const PackedLinear& W, const float* x, int64_t R, float* y,
              Epilogue ep);
  void layer_forward(int64_t l, std::span<const BatchItem> items, int64_t R);
  const LoraFactors* lora(int32_t adapter, int64_t l, Kind kind) const;

  GPTConfig config_;
  BatchDecoderOptions options_;
  std::vector<float> wte_, wpe_, lnf_w_, lnf_b_;  // (V,C), (P,C), (C,), (C,)
  std::vector<Layer> layers_;
  std::vector<std::vector<LoraFactors>> adapters_;  // [adapter][layer * 4 + kind]
  std::vector<Slot> slots_;
  // Per-row bookkeeping of the current forward: (max_rows,) each.
  std::vector<int64_t> row_slot_, row_pos_;
  std::vector<int64_t> item_row0_;  // (max_slots + 1,) first row of each item
  // Activations for max_rows rows, allocated once:
  std::vector<float> x_, xn_, qkv_, att_, fc_, tmp_;  // (R,C) (R,C) (R,3C) (R,C) (R,4C) (R,4C)
  std::vector<float> lora_u_;                         // (R, max rank) adapter scratch
  std::vector<float> scores_;                         // (max_slots * H, P) attention scratch
  std::vector<float> hn_;                             // (max_slots, C) ln_f of last rows
  std::vector<float> logits_;                         // (max_slots, V)
  bool parallel_ = true;
  int64_t parallel_threshold_ = int64_t{1} << 21;
};

}  // namespace cpurich
