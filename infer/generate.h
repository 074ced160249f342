// generate.h: the generation loop: prefill the prompt, then sample one token
// at a time until max_new_tokens, a stop string, or the context is full.
//
// What it teaches: generation is a loop of  logits -> sampler -> token ->
// decoder.step(token) -> logits. Everything it needs is allocated before the
// loop. The context window (n_positions) bounds what the model can see; when
// prompt + generated text outgrows it there are two policies:
//   stop   end generation (finish_reason "context"): exact, never forgets;
//   slide  keep only the last `slide_keep` tokens (default n_positions / 2),
//          re-prefill them into an empty cache (positions restart at 0,
//          since GPT-2's learned position embeddings only go up to
//          n_positions) and continue. Keeping half the window, not all of
//          it, makes re-prefills rare: one every n_positions / 2 tokens.
//
// Pipeline position: tokens -> model -> sampler -> [generation loop] -> text.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "infer/decoder.h"
#include "infer/sampling.h"
#include "infer/token_decoder.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// What to do when the context window is full (see the file comment).
enum class ContextPolicy { Stop, Slide };

/// "stop" or "slide"; throws std::invalid_argument otherwise.
ContextPolicy context_policy_from_name(const std::string& name);

/// Everything that shapes one generation.
struct GenerateOptions {
  SamplerOptions sampler;
  int64_t max_new_tokens = 256;   ///< >= 1
  std::vector<std::string> stop;  ///< stop strings, matched on the decoded text
  ContextPolicy context = ContextPolicy::Stop;
  int64_t slide_keep = 0;  ///< tokens kept when sliding; 0 = n_positions / 2
};

/// What came out, and how fast.
struct GenerateResult {
  std::vector<int32_t> tokens;   ///< the new tokens (including any that formed a stop string)
  std::string text;              ///< their text, cut before the first stop string
  int64_t prompt_tokens = 0;     ///< prompt length in tokens
  int64_t prefilled_tokens = 0;  ///< prompt tokens actually computed (the rest was cached)
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;
  std::string finish_reason;  ///< "length", "stop" or "context"
  /// Prompt tokens per second of prefill (0 if nothing was timed).
  double prefill_tok_s() const;
  /// New tokens per second of decoding (0 if nothing was timed).
  double decode_tok_s() const;
};

/// Called with text as soon as it is safe to print (complete UTF-8, no
/// possible stop-string prefix).
using TextCallback = std::function<void(std::string_view)>;

/// Generates from prompt (>= 1 token). Reuses whatever prefix of the prompt
/// the decoder already holds (Decoder::sync). Throws std::invalid_argument on
/// invalid options, or (policy stop) on a prompt longer than the context.
GenerateResult generate(TokenDecoder& decoder, const Tokenizer& tokenizer,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text = {});
/// The same on a plain Decoder (through DecoderRef).
GenerateResult generate(Decoder& decoder, const Tokenizer& tokenizer,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text = {});

}  // namespace cpurich
