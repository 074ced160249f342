// Where a chat reply ends: a scripted decoder "writes" an answer, a newline
// and then the human's next turn, the way a text continuer left alone does;
// the reply must stop at the end of its line (or, with ReplyEnd::Turn, at the
// next "### Human:") and the invented turn must never reach the conversation.
#include <catch2/catch.hpp>
#include <span>
#include <string>
#include <vector>

#include "infer/chat.h"
#include "test_util.h"

using namespace cpurich;

namespace {

const test::AlphabetTokenizer kTok;

// A TokenDecoder whose logits always point at the next character of a fixed
// script, whatever it was fed: greedy decoding then writes the script.
class ScriptedDecoder final : public TokenDecoder {
 public:
  explicit ScriptedDecoder(const std::string& script) : script_(kTok.encode(script)) {
    config_.n_positions = 512;
    config_.vocab_size = kTok.vocab_size();
    logits_.assign(static_cast<size_t>(config_.vocab_size), 0.0f);
  }
  const GPTConfig& config() const override { return config_; }
  std::span<const int32_t> tokens() const override { return tokens_; }
  void reset() override { tokens_.clear(); }
  std::span<const float> append(std::span<const int32_t> ids) override {
    tokens_.insert(tokens_.end(), ids.begin(), ids.end());
    return next();
  }
  std::span<const float> sync(std::span<const int32_t> ids) override {
    tokens_.assign(ids.begin(), ids.end());
    return next();
  }
  std::span<const float> logits() const override { return logits_; }

 private:
  std::span<const float> next() {
    std::fill(logits_.begin(), logits_.end(), 0.0f);
    logits_[static_cast<size_t>(script_[pos_ % script_.size()])] = 10.0f;
    ++pos_;
    return logits_;
  }
  GPTConfig config_;
  std::vector<int32_t> script_;
  std::vector<int32_t> tokens_;
  std::vector<float> logits_;
  size_t pos_ = 0;
};

const GenerateOptions kGreedy{.sampler = {.temperature = 0.0}, .max_new_tokens = 60};
// The answer, its newline, then the next turn the model makes up.
const std::string kScript = " Paris.\nIt is big.\n### Human: And Rome?\n### Assistant: Italy.\n";

}  // namespace

TEST_CASE("a chat reply ends at the end of its line and leaves out the next turn") {
  ScriptedDecoder d(kScript);
  ChatSession chat(d, kTok, kGreedy);
  const GenerateResult r = chat.turn("Where is the Louvre?");
  CHECK(r.text == " Paris.");
  CHECK(r.finish_reason == "stop");
  CHECK(chat.transcript() == "### Human: Where is the Louvre?\n### Assistant: Paris.\n");
  CHECK(chat.transcript().find("Rome") == std::string::npos);
}

TEST_CASE("a multi-line chat reply ends at the next turn marker") {
  ScriptedDecoder d(kScript);
  ChatSession chat(d, kTok, kGreedy, ReplyEnd::Turn);
  const GenerateResult r = chat.turn("Where is the Louvre?");
  CHECK(r.text == " Paris.\nIt is big.\n");
  CHECK(r.finish_reason == "stop");
  CHECK(r.text.find("Human") == std::string::npos);
  CHECK(chat.transcript().find("Rome") == std::string::npos);
}
