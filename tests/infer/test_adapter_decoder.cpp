// test_adapter_decoder.cpp: many adapters over one base, kept apart: the
// unmerged path matches the merged one (logits within 1e-5 relative, same
// greedy text), the base is bitwise Decoder's, switching adapters empties the
// KV cache (a switch must not reuse keys and values of another adapter) while
// keeping the conversation, and bad names fail in one line.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "infer/adapter_decoder.h"
#include "infer/chat.h"
#include "infer/decoder.h"
#include "infer/generate.h"
#include "nn/lora.h"
#include "tensor/threads.h"
#include "test_util.h"

using namespace cpurich;
using Catch::Matchers::Contains;

namespace {

using Logits = std::vector<float>;

// A model with a LoRA adapter whose B is random (not init's zero).
GPT adapted(const GPTConfig& config, uint64_t base_seed, uint64_t lora_seed) {
  GPT model = test::random_model(config, base_seed);
  add_lora(model,
           {.rank = 3, .alpha = 6, .targets = {"c_attn", "c_proj", "c_fc"}, .seed = lora_seed});
  Rng rng(lora_seed + 77);
  for (const auto& [name, lin] : model.linear_modules())
    if (lin->lora) lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 0.3));
  return model;
}

GPT merged(const GPTConfig& config, uint64_t base_seed, uint64_t lora_seed) {
  GPT m = adapted(config, base_seed, lora_seed);
  merge_lora(m);
  return m;
}

// The base with adapters "a" (lora seed 1) and "b" (lora seed 2).
AdapterDecoder two_adapters(const GPTConfig& config, uint64_t base_seed) {
  AdapterDecoder d(test::random_model(config, base_seed));
  GPT a = adapted(config, base_seed, 1), b = adapted(config, base_seed, 2);
  d.add_adapter("a", take_lora_weights(a));
  d.add_adapter("b", take_lora_weights(b));
  return d;
}

Logits copy(std::span<const float> s) {
  return {s.begin(), s.end()};
}

void check_close(const Logits& got, const Logits& want) {
  REQUIRE(got.size() == want.size());
  for (size_t v = 0; v < want.size(); ++v)
    CHECK(std::fabs(got[v] - want[v]) <= 1e-5 * std::max(1.0f, std::fabs(want[v])));
}

const std::vector<int32_t> kPrompt = {7, 3, 12, 40, 8, 8, 21, 5, 30, 2, 17};

}  // namespace

TEST_CASE("unmerged adapter: logits within 1e-5 of the merged model, same greedy text") {
  const test::AlphabetTokenizer tok;
  const auto config = test::small_config(64, tok.vocab_size());
  AdapterDecoder ad = two_adapters(config, 31);
  for (const char* name : {"a", "b"}) {
    ad.use(name);
    Decoder ref(merged(config, 31, name[0] == 'a' ? 1 : 2));
    check_close(copy(ad.sync(kPrompt)), copy(ref.sync(kPrompt)));
    for (const int32_t id : {4, 9, 33}) check_close(copy(ad.step(id)), copy(ref.step(id)));
    const GenerateOptions greedy{.sampler = {.temperature = 0.0}, .max_new_tokens = 30};
    const GenerateResult got = generate(ad, tok, kPrompt, greedy);
    const GenerateResult want = generate(ref, tok, kPrompt, greedy);
    CHECK(got.tokens == want.tokens);
    CHECK(got.text == want.text);
  }
  // The adapters really change the text (a test that could fail).
  const GenerateOptions greedy{.sampler = {.temperature = 0.0}, .max_new_tokens = 30};
  ad.use("a");
  const auto text_a = generate(ad, tok, kPrompt, greedy).text;
  ad.use("b");
  const auto text_b = generate(ad, tok, kPrompt, greedy).text;
  ad.use("base");
  const auto text_base = generate(ad, tok, kPrompt, greedy).text;
  CHECK(text_a != text_b);
  CHECK(text_a != text_base);
  CHECK(text_b != text_base);
}

TEST_CASE("without adapter the adapter decoder is bitwise the plain Decoder") {
  const auto config = test::small_config(64, 50);
  AdapterDecoder ad = two_adapters(config, 32);
  CHECK(ad.active() == "base");
  Decoder ref(test::random_model(config, 32));
  CHECK(copy(ad.sync(kPrompt)) == copy(ref.sync(kPrompt)));
  CHECK(copy(ad.step(3)) == copy(ref.step(3)));
  ad.use("a");
  ad.use("");  // "" selects the base too
  CHECK(ad.active() == "base");
  CHECK(copy(ad.sync(kPrompt)) == copy(ref.sync(kPrompt)));
}

TEST_CASE("switching adapter empties the KV cache, the same adapter keeps it") {
  const auto config = test::small_config(64, 50);
  AdapterDecoder ad = two_adapters(config, 33);
  ad.use("a");
  ad.sync(kPrompt);
  ad.use("a");  // no switch: the cache stays
  CHECK(ad.length() == static_cast<int64_t>(kPrompt.size()));
  ad.use("b");
  CHECK(ad.active() == "b");
  CHECK(ad.length() == 0);
  // After the switch the logits are b's from scratch, bitwise.
  const Logits after_switch = copy(ad.sync(kPrompt));
  AdapterDecoder fresh = two_adapters(config, 33);
  fresh.use("b");
  CHECK(after_switch == copy(fresh.sync(kPrompt)));
  // ...and not what a's keys and values would have given with b's last row:
  // a's whole-prompt logits differ, so reusing its cache would be visible.
  fresh.use("a");
  CHECK(after_switch != copy(fresh.sync(kPrompt)));
}

TEST_CASE("a chat switching adapter mid-conversation re-reads it under the new one") {
  const test::AlphabetTokenizer tok;
  const auto config = test::small_config(128, tok.vocab_size());
  const GenerateOptions options{.sampler = {.temperature = 0.0}, .max_new_tokens = 8};
  AdapterDecoder ad = two_adapters(config, 34);
  ad.use("a");
  ChatSession chat(ad, tok, options);
  chat.turn("Hi there");
  const int64_t after_one = chat.context_tokens();
  // Same adapter: the next turn reuses the cached conversation.
  const GenerateResult same = chat.turn("Again");
  CHECK(same.prefilled_tokens < same.prompt_tokens);
  CHECK(same.prompt_tokens > after_one);
  ad.use("b");
  const std::string before = chat.transcript();
  const GenerateResult r = chat.turn("And now");
  // Nothing computed under a is reused: the whole prompt is prefilled.
  CHECK(r.prefilled_tokens == r.prompt_tokens);
  // The reply is b's continuation of the very same conversation.
  AdapterDecoder fresh = two_adapters(config, 34);
  fresh.use("b");
  const auto prompt = tok.encode(before + "### Human: And now\n### Assistant:");
  GenerateOptions stop = options;
  stop.stop = {"### Human:", "\n"};  // the chat's stops (ReplyEnd::Line)
  const GenerateResult want = generate(fresh, tok, prompt, stop);
  CHECK(r.tokens == want.tokens);
  CHECK(r.text == want.text);
}

TEST_CASE("adapter names: unknown, reserved and repeated names fail in one line") {
  const auto config = test::small_config(64, 50);
  AdapterDecoder ad = two_adapters(config, 35);
  ad.use("a");
  ad.sync(kPrompt);
  CHECK_THROWS_WITH(ad.use("c"), Contains("unknown adapter 'c'") && Contains("known: base, a, b"));
  CHECK(ad.active() == "a");  // unchanged, cache included
  CHECK(ad.length() == static_cast<int64_t>(kPrompt.size()));
  GPT other = adapted(config, 35, 3);
  const LoraWeights w = take_lora_weights(other);
  CHECK_THROWS_WITH(ad.add_adapter("a", w), Contains("two adapters are named 'a'"));
  CHECK_THROWS_WITH(ad.add_adapter("base", w), Contains("reserved"));
  CHECK_THROWS_WITH(ad.add_adapter("", w), Contains("reserved"));
  CHECK(ad.adapter_names() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("sync rewinds to the shared prefix and matches a fresh decoder, any thread count") {
  const auto config = test::small_config(64, 50);
  const int before = num_threads();
  std::vector<Logits> runs;
  for (const int threads : {1, 2, 3}) {
    set_num_threads(threads);
    AdapterDecoder ad = two_adapters(config, 36);
    ad.set_parallel_threshold(0);
    ad.use("b");
    ad.sync(kPrompt);
    // Keep the first 6 tokens, replace the rest: the cache is truncated, not rebuilt.
    std::vector<int32_t> edited(kPrompt.begin(), kPrompt.begin() + 6);
    edited.insert(edited.end(), {1, 2, 3});
    runs.push_back(copy(ad.sync(edited)));
    CHECK(ad.length() == static_cast<int64_t>(edited.size()));
    AdapterDecoder fresh = two_adapters(config, 36);
    fresh.use("b");
    CHECK(runs.back() == copy(fresh.sync(edited)));
  }
  set_num_threads(before);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}
