// generate.cpp: the generation loop (see generate.h).
#include "infer/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "infer/stop_strings.h"

namespace cpurich {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The last `keep` tokens of history (all of them if fewer).
std::span<const int32_t> last_window(std::span<const int32_t> history, int64_t keep) {
  const auto n = static_cast<int64_t>(history.size());
  return n <= keep ? history : history.subspan(static_cast<size_t>(n - keep));
}

}  // namespace

ContextPolicy context_policy_from_name(const std::string& name) {
  if (name == "stop") return ContextPolicy::Stop;
  if (name == "slide") return ContextPolicy::Slide;
  throw std::invalid_argument("context policy must be 'stop' or 'slide', got '" + name + "'");
}

double GenerateResult::prefill_tok_s() const {
  return prefill_seconds > 0.0 ? static_cast<double>(prefilled_tokens) / prefill_seconds : 0.0;
}

double GenerateResult::decode_tok_s() const {
  return decode_seconds > 0.0 ? static_cast<double>(tokens.size()) / decode_seconds : 0.0;
}

GenerateResult generate(Decoder& decoder, const Tokenizer& tokenizer,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text) {
  DecoderRef ref(decoder);
  return generate(ref, tokenizer, prompt, options, on_text);
}

GenerateResult generate(TokenDecoder& decoder, const Tokenizer& tokenizer,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text) {
  const int64_t P = decoder.config().n_positions;
  const int64_t keep =
      options.slide_keep > 0 ? std::min(options.slide_keep, P) : std::max<int64_t>(P / 2, 1);
  if (options.max_new_tokens < 1)
    throw std::invalid_argument("max new tokens must be >= 1, got " +
                                std::to_string(options.max_new_tokens));
  if (prompt.empty()) throw std::invalid_argument("empty prompt: nothing to continue");
  Sampler sampler(options.sampler, decoder.config().vocab_size);
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt > P && options.context == ContextPolicy::Stop)
    throw std::invalid_argument("the prompt has " + std::to_string(n_prompt) +
                                " tokens but the model's context holds " + std::to_string(P) +
                                " (use --context slide to keep only the last part)");
  GenerateResult result;
  result.prompt_tokens = n_prompt;
  result.tokens.reserve(static_cast<size_t>(options.max_new_tokens));
  // history = prompt + new tokens; only needed to slide the window.
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  history.reserve(history.size() + static_cast<size_t>(options.max_new_tokens));
  TextStream stream(options.stop);

  auto t0 = std::chrono::steady_clock::now();
  const auto window = n_prompt > P ? last_window(prompt, keep) : prompt;
  const int64_t cached_before = decoder.length();
  decoder.sync(window);
  result.prefilled_tokens =
      static_cast<int64_t>(window.size()) -
      std::min<int64_t>(cached_before, static_cast<int64_t>(window.size()) - 1);
  result.prefill_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  // A model may have more ids than its tokenizer (a vocabulary padded to a
  // round size): those ids have no text, so they must never be sampled.
  const auto usable =
      std::min<size_t>(static_cast<size_t>(tokenizer.vocab_size()), decoder.logits().size());
  std::vector<float> logits(decoder.logits().begin(), decoder.logits().end());
  auto mask_unusable = [&] {
    std::fill(logits.begin() + static_cast<std::ptrdiff_t>(usable), logits.end(), -INFINITY);
  };
  mask_unusable();
  result.finish_reason = "length";
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    const int32_t token = sampler.next(logits, decoder.tokens());
    result.tokens.push_back(token);
    history.push_back(token);
    stream.append(tokenizer.decode(std::span<const int32_t>(&token, 1)));
    if (on_text) {
      const auto ready = stream.take_ready();
      if (!ready.empty()) on_text(ready);
    }
    if (stream.stopped()) {
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 == options.max_new_tokens) break;  // no logits needed after the last token
    if (decoder.remaining() == 0) {
      if (options.context == ContextPolicy::Stop) {
        result.finish_reason = "context";
        break;
      }
      decoder.reset();  // slide: re-prefill the last `keep` tokens
      decoder.append(last_window(history, keep));
    } else {
      decoder.step(token);
    }
    std::copy(decoder.logits().begin(), decoder.logits().end(), logits.begin());
    mask_unusable();
  }
  result.decode_seconds = seconds_since(t0);
  if (on_text) {
    const auto rest = stream.take_rest();
    if (!rest.empty()) on_text(rest);
  }
  result.text = stream.text();
  return result;
}

}  // namespace cpurich
