// adapter_decoder.h: one conversation over a base model and any number of
// named LoRA adapters, switched per request without touching the base.
//
// What it teaches: S-LoRA's idea at batch size 1. Merging an adapter
// (W' = W + s A^T B^T, nn/lora.h) makes a new copy of every adapted matrix,
// so n adapters cost n models and switching means reloading. Kept apart, an
// adapter is only its factors, r (in + out) numbers per layer against in * out
// for W, and a layer computes
//     y = x W + b + s (x A^T) B^T
// with W shared by every adapter. Selecting an adapter is then a pointer
// swap: the sequence's slot in a BatchDecoder (infer/batch_decoder.h) now
// names another adapter's factors. The one thing a switch must not keep is
// the KV cache: the keys and values of every layer after the first adapted
// one were computed through the old adapter, so they are not the keys and
// values the new one would compute. A switch empties the cache; the next
// sync() recomputes the conversation under the new adapter (one prefill).
//
// Numbers: with no adapter a row is computed exactly as Decoder computes it
// (bitwise); with one, as BatchDecoder documents, within float rounding of a
// Decoder on the merged weights (another rounding of W').
//
// Pipeline position: base model + adapter files -> [adapter decoder] -> logits -> sampler.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "infer/batch_decoder.h"
#include "infer/token_decoder.h"

namespace cpurich {

class GPT;

/// A base model plus named adapters, decoding one sequence.
class AdapterDecoder final : public TokenDecoder {
 public:
  /// The name that selects no adapter.
  static constexpr const char* kBase = "base";

  /// From a model without attached adapters (copies its weights); starts on the base.
  explicit AdapterDecoder(const GPT& base);

  /// Registers an adapter under `name`. Throws std::invalid_argument on an
  /// empty name, "base", a name already taken, or factors that do not fit.
  void add_adapter(const std::string& name, const LoraWeights& adapter);
  /// Registered names, sorted.
  std::vector<std::string> adapter_names() const;

  /// Selects the adapter for everything that follows ("base" or "" = none).
  /// The same adapter again keeps the cache; another one empties it (its
  /// keys and values belong to the old adapter). Throws
  /// std::invalid_argument naming the known adapters on an unknown name,
  /// leaving the selection and the cache as they were.
  void use(const std::string& name);
  /// The selected adapter's name ("base" for none).
  const std::string& active() const { return active_; }

  // TokenDecoder (contracts as Decoder's).
  const GPTConfig& config() const override { return batch_.config(); }
  std::span<const int32_t> tokens() const override { return batch_.tokens(slot_); }
  void reset() override { truncate(0); }
  /// Keeps only the first n cached tokens (n <= length()).
  void truncate(int64_t n) { batch_.truncate(slot_, n); }
  std::span<const float> append(std::span<const int32_t> ids) override;
  std::span<const float> sync(std::span<const int32_t> ids) override;
  std::span<const float> logits() const override { return batch_.logits(slot_); }

  /// As Decoder::set_parallel_threshold.
  void set_parallel_threshold(int64_t macs) { batch_.set_parallel_threshold(macs); }

 private:
  BatchDecoder batch_;
  std::map<std::string, int32_t> ids_;  // name -> BatchDecoder adapter id
  std::string active_ = kBase;
  int64_t slot_ = 0;
};

}  // namespace cpurich
