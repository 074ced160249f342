// Generation: seeds, stop strings, context policies, chat and the checks the
// CLI relies on (tested by calling the same functions the CLI calls).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "infer/chat.h"
#include "infer/generate.h"
#include "infer/session.h"
#include "test_util.h"

using namespace cpurich;

namespace {

const test::AlphabetTokenizer kTok;

GenerateOptions sampling(uint64_t seed, int64_t max_new) {
  GenerateOptions o;
  o.sampler.seed = seed;
  o.max_new_tokens = max_new;
  return o;
}

}  // namespace

TEST_CASE("same seed gives the same text, another seed another text") {
  const GPT model = test::random_model(test::small_config(64, kTok.vocab_size()), 21);
  Decoder d(model);
  const auto prompt = kTok.encode("Hello");
  const auto a = generate(d, kTok, prompt, sampling(1, 40));
  const auto b = generate(d, kTok, prompt, sampling(1, 40));
  const auto c = generate(d, kTok, prompt, sampling(2, 40));
  CHECK(a.text.size() == 40);
  CHECK(a.text == b.text);
  CHECK(a.text != c.text);
  CHECK(a.finish_reason == "length");
}

TEST_CASE("generation stops at a stop string and leaves it out of the text") {
  const GPT model = test::random_model(test::small_config(256, kTok.vocab_size()), 22);
  Decoder d(model);
  auto opts = sampling(3, 200);
  opts.stop = {"e"};
  std::string streamed;
  const auto r =
      generate(d, kTok, kTok.encode("Hi"), opts, [&](std::string_view s) { streamed += s; });
  REQUIRE(r.finish_reason == "stop");
  CHECK(r.text.find('e') == std::string::npos);
  CHECK(kTok.decode(r.tokens) == r.text + "e");
  CHECK(streamed == r.text);
}

TEST_CASE("context policy stop ends generation when the window is full") {
  const GPT model = test::random_model(test::small_config(16, kTok.vocab_size()), 23);
  Decoder d(model);
  const auto r = generate(d, kTok, kTok.encode("abcd"), sampling(4, 100));
  CHECK(r.finish_reason == "context");
  CHECK(r.tokens.size() == 16 - 4 + 1);  // the last token needs no further step
  CHECK_THROWS_WITH(generate(d, kTok, std::vector<int32_t>(17, 1), sampling(4, 5)),
                    Catch::Contains("use --context slide"));
}

TEST_CASE("context policy slide re-prefills the last window and goes past n_positions") {
  const int64_t P = 16, keep = 8;
  const GPT model = test::random_model(test::small_config(P, kTok.vocab_size()), 24);
  Decoder d(model);
  auto opts = sampling(0, 60);
  opts.sampler.temperature = 0.0;
  opts.context = ContextPolicy::Slide;
  opts.slide_keep = keep;
  const auto prompt = kTok.encode("abcd");
  const auto r = generate(d, kTok, prompt, opts);
  REQUIRE(r.tokens.size() == 60);
  CHECK(r.finish_reason == "length");
  // Reference: the same policy by full recomputation of the visible window.
  Decoder ref(model);
  std::vector<int32_t> history = prompt, window = prompt;
  std::vector<int32_t> expected;
  for (int i = 0; i < 60; ++i) {
    ref.reset();
    const int32_t t = argmax(ref.append(window));
    expected.push_back(t);
    history.push_back(t);
    if (static_cast<int64_t>(window.size()) == P)
      window.assign(history.end() - keep, history.end());
    else
      window.push_back(t);
  }
  CHECK(r.tokens == expected);
}

TEST_CASE("chat keeps the conversation in the format and within the window") {
  const int64_t P = 96;
  const GPT model = test::random_model(test::small_config(P, kTok.vocab_size()), 25);
  Decoder d(model);
  auto opts = sampling(5, 20);
  opts.context = ContextPolicy::Slide;
  ChatSession chat(d, kTok, opts);
  const auto r1 = chat.turn("hi");
  CHECK(r1.text.find("### Human:") == std::string::npos);
  const std::string t1 = chat.transcript();
  CHECK(t1.rfind("### Human: hi\n### Assistant:", 0) == 0);
  CHECK(t1.back() == '\n');
  for (int i = 0; i < 6; ++i) chat.turn("how are you");  // more than P tokens in total
  CHECK(chat.context_tokens() <= P);
  CHECK_THROWS_WITH(chat.turn("caf\xC3\xA9"), Catch::Contains("unknown character"));
  CHECK_THROWS_WITH(chat.turn(""), Catch::Contains("empty message"));
}

TEST_CASE("the CLI's input checks give clear errors") {
  CHECK_THROWS_WITH(encode_prompt(kTok, ""), Catch::Contains("empty prompt"));
  CHECK_THROWS_WITH(encode_prompt(kTok, "x~"), Catch::Contains("unknown character '~'"));
  CHECK_THROWS_WITH(load_inference_model("/nonexistent/model/dir"),
                    Catch::Contains("model directory '/nonexistent/model/dir' does not exist"));
  CHECK_THROWS_WITH(context_policy_from_name("wrap"), Catch::Contains("'stop' or 'slide'"));
  const GPT model = test::random_model(test::small_config(16, kTok.vocab_size()), 26);
  Decoder d(model);
  auto opts = sampling(0, 5);
  opts.sampler.top_p = 0.0;
  CHECK_THROWS_WITH(generate(d, kTok, kTok.encode("a"), opts), Catch::Contains("top-p"));
  opts = sampling(0, 0);
  CHECK_THROWS_WITH(generate(d, kTok, kTok.encode("a"), opts), Catch::Contains("max new tokens"));
}

TEST_CASE("ids beyond the tokenizer's vocabulary are never sampled") {
  // A model with 8 more ids than the tokenizer (a padded vocabulary).
  const GPT model = test::random_model(test::small_config(64, kTok.vocab_size() + 8), 27);
  Decoder d(model);
  const auto r = generate(d, kTok, kTok.encode("abc"), sampling(6, 60));
  for (const int32_t t : r.tokens) CHECK(t < kTok.vocab_size());
}
