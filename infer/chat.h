// chat.h: a multi-turn conversation on top of generate().
//
// What it teaches: a chat model is still a text continuer. Each user line is
// wrapped in the format the model was fine-tuned on,
//     ### Human: <line>\n### Assistant:
// and the model continues the text. Left alone it would write its answer,
// then a newline, then invent the human's next question and answer that too:
// the answer's end has to be a stop string. Fine-tuning taught the model to
// write " <answer>\n" after the prompt (train/sft_data.h), so by default a
// reply ends at its first newline (the stop "\n"; qa-eval stops there too);
// for replies that span lines, ReplyEnd::Turn stops only where the model
// starts the next "### Human:" turn. There is no end-of-text token to stop on:
// the char tokenizer has none, and the newline plays that role in the format. The whole
// conversation stays in the context, so the model can refer back to earlier turns; the decoder's KV
// cache keeps the already-seen turns, so each turn only prefills its new tokens. When the
// conversation outgrows the window, the oldest tokens are dropped (then the
// cache is rebuilt once, since every position shifts).
//
// Pipeline position: [your line] -> tokens -> model -> sampler -> reply.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "infer/generate.h"

namespace cpurich {

/// Where a reply ends (besides max_new_tokens and the context).
enum class ReplyEnd {
  Line,  ///< at its first newline, as fine-tuning taught (" <answer>\n")
  Turn,  ///< only at the next "### Human:" (a reply may span lines)
};

/// One conversation with a model.
class ChatSession {
 public:
  /// options.stop gets "### Human:" added, and "\n" for ReplyEnd::Line.
  /// Throws std::invalid_argument on invalid sampler values. The decoder
  /// outlives the session; a decoder whose cache is emptied between turns (an
  /// adapter switch, infer/adapter_decoder.h) just costs the next turn a full
  /// prefill.
  ChatSession(TokenDecoder& decoder, const Tokenizer& tokenizer, GenerateOptions options,
              ReplyEnd end = ReplyEnd::Line);
  /// The same on a plain Decoder (through DecoderRef).
  ChatSession(Decoder& decoder, const Tokenizer& tokenizer, GenerateOptions options,
              ReplyEnd end = ReplyEnd::Line);

  /// Adds the user's line, generates the reply (streamed through on_text),
  /// keeps both in the conversation. Throws std::invalid_argument on an empty
  /// line or characters the tokenizer cannot encode (the session is unchanged).
  GenerateResult turn(std::string_view line, const TextCallback& on_text = {});

  /// The conversation so far, as the model sees it (after any left truncation).
  std::string transcript() const;
  /// Its length in tokens.
  int64_t context_tokens() const { return static_cast<int64_t>(history_.size()); }

 private:
  void add_stops(ReplyEnd end);

  std::unique_ptr<DecoderRef> ref_;  // set when built on a plain Decoder
  TokenDecoder* decoder_;
  const Tokenizer& tokenizer_;
  GenerateOptions options_;
  std::vector<int32_t> history_;
};

}  // namespace cpurich
