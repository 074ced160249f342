// chat.cpp: the conversation loop's bookkeeping (see chat.h).
#include "infer/chat.h"

#include <algorithm>
#include <stdexcept>

#include "infer/stop_strings.h"

namespace cpurich {

ChatSession::ChatSession(TokenDecoder& decoder, const Tokenizer& tokenizer, GenerateOptions options,
                         ReplyEnd end)
    : decoder_(&decoder), tokenizer_(tokenizer), options_(std::move(options)) {
  options_.sampler.validate(decoder.config().vocab_size);
  add_stops(end);
}

ChatSession::ChatSession(Decoder& decoder, const Tokenizer& tokenizer, GenerateOptions options,
                         ReplyEnd end)
    : ref_(std::make_unique<DecoderRef>(decoder)),
      decoder_(ref_.get()),
      tokenizer_(tokenizer),
      options_(std::move(options)) {
  options_.sampler.validate(decoder.config().vocab_size);
  add_stops(end);
}

void ChatSession::add_stops(ReplyEnd end) {
  options_.stop.push_back("### Human:");
  if (end == ReplyEnd::Line) options_.stop.push_back("\n");
}

GenerateResult ChatSession::turn(std::string_view line, const TextCallback& on_text) {
  if (line.empty()) throw std::invalid_argument("empty message");
  const auto ids = tokenizer_.encode("### Human: " + std::string(line) + "\n### Assistant:");
  history_.insert(history_.end(), ids.begin(), ids.end());
  // Leave room for the reply: drop the oldest tokens beyond P - reserve.
  const int64_t P = decoder_->config().n_positions;
  const int64_t reserve = std::min(options_.max_new_tokens, P / 2);
  const auto excess = static_cast<int64_t>(history_.size()) - (P - reserve);
  if (excess > 0) history_.erase(history_.begin(), history_.begin() + excess);

  GenerateResult result = generate(*decoder_, tokenizer_, history_, options_, on_text);
  // The reply joins the conversation as text "<reply>\n" (trailing spaces and
  // newlines trimmed, an incomplete UTF-8 tail dropped), re-encoded.
  std::string reply = result.text.substr(0, utf8_complete_prefix(result.text));
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == ' ')) reply.pop_back();
  const auto reply_ids = tokenizer_.encode(reply + "\n");
  history_.insert(history_.end(), reply_ids.begin(), reply_ids.end());
  if (static_cast<int64_t>(history_.size()) > P)
    history_.erase(history_.begin(), history_.end() - P);
  return result;
}

std::string ChatSession::transcript() const {
  return tokenizer_.decode(history_);
}

}  // namespace cpurich
