// test_sft_data.cpp: Q/A parsing (JSONL, prompt/completion, chat text, world
// directories), the chat template, loss masking, padding, truncation counts,
// one-line errors on bad input, and that masked positions do not move the loss.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "autograd/ops.h"
#include "nn/gpt.h"
#include "tensor/ops.h"
#include "tokenizer/tokenizer_char.h"
#include "train/sft_data.h"
#include "train/world.h"
#include "train_test_util.h"
#include "util/file_util.h"

using namespace cpurich;
using Catch::Matchers::Contains;
using cpurich::test::TempDir;

namespace {
const std::string kAlphabet =
    "### Human: Assistant:\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789?,.";
}

TEST_CASE("the SFT template is the world's chat format and chat's prompt", "[sft]") {
  const world::QA qa{.question = "Where was Ann Bo born?",
                     .answer = "Ironvale",
                     .person = "Ann Bo",
                     .attribute = world::kBirthCity};
  CHECK(sft_prompt(qa.question) + sft_completion(qa.answer) == world::chat_format(qa));
  CHECK(sft_prompt("hi") == "### Human: hi\n### Assistant:");
}

TEST_CASE("Q/A parsing: JSONL, prompt/completion, groups and chat text", "[sft]") {
  const auto a = parse_qa_jsonl(
      "{\"question\":\"Q1?\",\"answer\":\"A1\"}\n\n{\"prompt\":\" Q2?\",\"completion\":\"A2 \","
      "\"group\":\"g\"}\n",
      "f.jsonl", "train");
  REQUIRE(a.size() == 2);
  CHECK(a[0].question == "Q1?");
  CHECK(a[0].group == "train");
  CHECK(a[1].question == "Q2?");
  CHECK(a[1].answer == "A2");
  CHECK(a[1].group == "g");
  CHECK(a[1].where == "f.jsonl:3");
  const auto c = parse_qa_chat(
      "### Human: Q1?\n### Assistant: A1\n### Human: Q2?\n### Assistant: A2\n", "c.txt", "x");
  REQUIRE(c.size() == 2);
  CHECK(c[1].question == "Q2?");
  CHECK(c[1].answer == "A2");
  CHECK(c[1].where == "c.txt:3");
}

TEST_CASE("Q/A parsing rejects bad input with one-line errors", "[sft][errors]") {
  CHECK_THROWS_WITH(parse_qa_jsonl("{\"question\":\"Q\",\"answer\":\"A\"}\n{oops\n", "f", ""),
                    "f:2: not a JSON object");
  CHECK_THROWS_WITH(parse_qa_jsonl("{\"question\":\"Q\"}\n", "f", ""), Contains("f:1: needs"));
  CHECK_THROWS_WITH(parse_qa_jsonl("{\"question\":\"Q\",\"answer\":3}\n", "f", ""),
                    Contains("f:1: needs"));
  CHECK_THROWS_WITH(parse_qa_jsonl("{\"question\":\"Q\",\"answer\":\" \"}\n", "f", ""),
                    "f:1: empty question or answer");
  CHECK_THROWS_WITH(parse_qa_chat("### Human: Q\n### Human: R\n### Assistant: A\n", "c", ""),
                    Contains("c:1: \"### Human:\" without"));
  CHECK_THROWS_WITH(parse_qa_chat("hello\n### Human: Q\n### Assistant: A\n", "c", ""),
                    Contains("text before"));
  CHECK_THROWS_WITH(read_qa_source("/nonexistent/qa.jsonl"), Contains("does not exist"));
  const test::AlphabetTokenizer tok(kAlphabet);
  const std::vector<QAPair> bad{
      {.question = "caf\xc3\xa9?", .answer = "A", .group = "", .where = "f:7"}};
  CHECK_THROWS_WITH(build_sft_data(bad, tok, 64), Contains("f:7: "));
}

TEST_CASE("a world directory reads as train / test / unseen groups", "[sft]") {
  TempDir dir("sft_world");
  world::WorldOptions o;
  o.people = 10;
  o.bios_per_person = 1;
  const world::World w = world::generate_world(o);
  world::write_world(w, dir.path().string());
  const auto pairs = read_qa_source(dir.path().string());
  REQUIRE(pairs.size() == w.qa_train.size() + w.qa_test.size() + w.qa_unseen.size());
  CHECK(pairs.front().group == "train");
  CHECK(pairs.front().question == w.qa_train.front().question);
  CHECK(pairs.back().group == "unseen");
  CHECK(pairs.back().answer == w.qa_unseen.back().answer);
  const auto train = read_qa_source(dir.file("qa_train.jsonl"));
  CHECK(train.size() == w.qa_train.size());
}

TEST_CASE("SFT batches: prompt and padding targets are -1, answers shifted by one", "[sft]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const std::vector<QAPair> pairs{
      {.question = "Q?", .answer = "yes", .group = "", .where = "a"},
      {.question = "Longer q?", .answer = "no", .group = "", .where = "b"}};
  const SftData d = build_sft_data(pairs, tok, 64);
  REQUIRE(d.examples.size() == 2);
  const SftExample& e0 = d.examples[0];
  CHECK(e0.n_prompt == static_cast<int64_t>(sft_prompt("Q?").size()));
  CHECK(e0.ids == tok.encode(sft_prompt("Q?") + sft_completion("yes")));
  CHECK(d.stats.answer_tokens == 5 + 4);  // " yes\n", " no\n"
  const std::vector<int64_t> rows{0, 1};
  const Batch b = sft_batch(d, rows);
  CHECK(b.B == 2);
  CHECK(b.T == static_cast<int64_t>(d.examples[1].ids.size()) - 1);  // the longest row
  for (int64_t i = 0; i < 2; ++i) {
    const SftExample& e = d.examples[static_cast<size_t>(i)];
    const auto n = static_cast<int64_t>(e.ids.size());
    for (int64_t t = 0; t < b.T; ++t) {
      const auto k = static_cast<size_t>(i * b.T + t);
      if (t + 1 < n)
        CHECK(b.inputs[k] == e.ids[static_cast<size_t>(t)]);
      else
        CHECK(b.inputs[k] == 0);
      const bool graded = t + 1 < n && t + 1 >= e.n_prompt;
      CHECK(b.targets[k] == (graded ? e.ids[static_cast<size_t>(t + 1)] : -1));
    }
  }
}

TEST_CASE("SFT truncation is counted, an example with no answer left is dropped", "[sft]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const std::string q = "Q?";
  const auto n_prompt = static_cast<int64_t>(sft_prompt(q).size());
  const std::vector<QAPair> pairs{
      {.question = q, .answer = "abcdefgh", .group = "", .where = "a"},
      {.question = q + "xxxxxxxx", .answer = "b", .group = "", .where = "b"},
      {.question = q, .answer = "c", .group = "", .where = "c"}};
  // Block n_prompt + 2: the first example keeps 3 answer tokens, the second
  // (prompt longer than block + 1) loses all and is dropped, the third fits.
  const SftData d = build_sft_data(pairs, tok, n_prompt + 2);
  CHECK(d.stats.pairs == 3);
  CHECK(d.stats.truncated == 2);
  CHECK(d.stats.dropped == 1);
  REQUIRE(d.examples.size() == 2);
  CHECK(static_cast<int64_t>(d.examples[0].ids.size()) == n_prompt + 3);
  CHECK(d.stats.answer_tokens == 3 + 3);
  CHECK_THROWS_WITH(build_sft_data(std::span(pairs).subspan(1, 1), tok, n_prompt + 2),
                    Contains("no fine-tuning example fits"));
}

TEST_CASE("masked loss: prompt targets do not change the loss or the gradients", "[sft]") {
  // The loss of a batch equals the same batch whose ignored targets are
  // replaced by anything else, minus those positions: recompute it directly
  // as the mean of the per-position losses at graded positions.
  const test::AlphabetTokenizer tok(kAlphabet);
  const std::vector<QAPair> pairs{{.question = "Q?", .answer = "yes", .group = "", .where = "a"},
                                  {.question = "Hi?", .answer = "no", .group = "", .where = "b"}};
  const SftData d = build_sft_data(pairs, tok, 32);
  const std::vector<int64_t> rows{0, 1};
  const Batch b = sft_batch(d, rows);
  GPTConfig c{
      .n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 32, .vocab_size = tok.vocab_size()};
  GPT model(c, 5);
  const Var loss = model.loss(b.inputs, b.targets, b.B, b.T);
  double sum = 0;
  int64_t n = 0;
  {
    NoGradGuard ng;
    const Tensor logits = model.forward(b.inputs, b.B, b.T).value();
    const Tensor lsm = log_softmax(logits);
    for (int64_t i = 0; i < b.B; ++i)
      for (int64_t t = 0; t < b.T; ++t) {
        const int32_t y = b.targets[static_cast<size_t>(i * b.T + t)];
        if (y < 0) continue;
        sum -= lsm.at({i, t, y});
        ++n;
      }
  }
  CHECK(n == d.stats.answer_tokens);
  CHECK(loss.value().item() == Approx(sum / static_cast<double>(n)).epsilon(1e-5));
  // The gradient reaching the logits is exactly zero at every prompt and
  // padding position: nothing there can move the weights.
  Var logits(model.forward(b.inputs, b.B, b.T).value().clone(), true);
  ag::cross_entropy(logits, b.targets).backward();
  const Tensor& g = logits.grad();
  const int64_t V = c.vocab_size;
  for (int64_t k = 0; k < b.B * b.T; ++k) {
    double row = 0;
    for (int64_t v = 0; v < V; ++v) row += std::abs(g.data_f32()[k * V + v]);
    if (b.targets[static_cast<size_t>(k)] < 0)
      CHECK(row == 0.0);
    else
      CHECK(row > 0.0);
  }
}

TEST_CASE("SftSampler visits every example once per epoch, reproducibly", "[sft]") {
  SftSampler s(7, 3), s2(7, 3);
  auto a = s.next(7);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(s.epoch() == 0);
  const auto b = s.next(3);
  CHECK(s.epoch() == 1);
  const auto a2 = s2.next(10);
  CHECK(std::vector<int64_t>(a2.begin(), a2.begin() + 7) == a);
  CHECK(std::vector<int64_t>(a2.begin() + 7, a2.end()) == b);
}
