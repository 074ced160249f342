// token_decoder.h: what the generation loop needs from a decoder, so the same
// loop (infer/generate.h) and chat (infer/chat.h) run on the plain Decoder
// and on the many-adapters decoder (infer/adapter_decoder.h) alike.
//
// What it teaches: generate() only ever asks a decoder five things: the
// cached tokens, "forget them", "append these ids", "make the cache hold
// exactly these ids" (reusing the longest cached prefix) and the logits after
// the last one. Anything that answers those, whatever it computes with, can
// be sampled from. One virtual call per token costs nothing next to a
// forward pass.
//
// Pipeline position: tokens -> [a decoder, behind this interface] -> logits -> sampler.
#pragma once

#include <cstdint>
#include <span>

#include "infer/decoder.h"
#include "nn/config.h"

namespace cpurich {

/// A model with a KV cache, as generate() uses it (contracts as Decoder's).
class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;

  virtual const GPTConfig& config() const = 0;
  /// Tokens currently in the cache.
  virtual std::span<const int32_t> tokens() const = 0;
  int64_t length() const { return static_cast<int64_t>(tokens().size()); }
  int64_t remaining() const { return config().n_positions - length(); }
  /// Forgets every cached token.
  virtual void reset() = 0;
  /// Runs ids at the next positions; returns the logits (V,) after the last.
  virtual std::span<const float> append(std::span<const int32_t> ids) = 0;
  std::span<const float> step(int32_t id) { return append({&id, 1}); }
  /// Makes the cache hold exactly ids, reusing the longest cached prefix.
  virtual std::span<const float> sync(std::span<const int32_t> ids) = 0;
  /// The logits returned by the last append (V,).
  virtual std::span<const float> logits() const = 0;
};

/// A Decoder seen through TokenDecoder: every call forwards unchanged, so
/// generation on it is exactly generation on the Decoder.
class DecoderRef final : public TokenDecoder {
 public:
  explicit DecoderRef(Decoder& decoder) : d_(decoder) {}
  const GPTConfig& config() const override { return d_.config(); }
  std::span<const int32_t> tokens() const override { return d_.tokens(); }
  void reset() override { d_.reset(); }
  std::span<const float> append(std::span<const int32_t> ids) override { return d_.append(ids); }
  std::span<const float> sync(std::span<const int32_t> ids) override { return d_.sync(ids); }
  std::span<const float> logits() const override { return d_.logits(); }

 private:
  Decoder& d_;
};

}  // namespace cpurich
