// test_qa_eval.cpp: answer normalisation and greedy answers (infer/qa_eval.h):
// the answer is the argmax continuation up to the first newline, computed
// here step by step with the decoder as the reference.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "infer/qa_eval.h"
#include "infer/sampling.h"
#include "test_util.h"

using namespace cpurich;

TEST_CASE("normalize_answer: trim, collapse spaces, final period, ASCII case") {
  CHECK(normalize_answer("  Port \t Amberly. ") == "port amberly");
  CHECK(normalize_answer("Ironvale") == normalize_answer("ironvale."));
  CHECK(normalize_answer("Iron vale") != normalize_answer("Ironvale"));
  CHECK(normalize_answer("October 3, 1973") == "october 3, 1973");
  CHECK(normalize_answer("Zo\xc3\xab") == "zo\xc3\xab");  // non-ASCII bytes kept as they are
  CHECK(normalize_answer(" . ") == "");
  CHECK(normalize_answer("") == "");
}

TEST_CASE("greedy_answer is the argmax continuation up to the newline") {
  const test::AlphabetTokenizer tok;
  const GPTConfig c = test::small_config(48, tok.vocab_size());
  for (uint64_t seed : {3u, 4u, 5u, 6u}) {
    const GPT model = test::random_model(c, seed);
    Decoder d(model);
    const std::string prompt = "### Human: Who\n### Assistant:";
    const std::string got = greedy_answer(d, tok, prompt, 12);
    // Reference: plain argmax decoding, cut at the first newline, trimmed.
    Decoder ref(model);
    auto ids = tok.encode(prompt);
    std::span<const float> logits = ref.append(ids);
    std::string text;
    for (int k = 0; k < 12; ++k) {
      const int32_t next = argmax(logits);
      const std::string piece = tok.decode(std::vector<int32_t>{next});
      if (piece == "\n") break;
      text += piece;
      logits = ref.step(next);
    }
    while (!text.empty() && text.front() == ' ') text.erase(text.begin());
    while (!text.empty() && text.back() == ' ') text.pop_back();
    CHECK(got == text);
  }
  const GPT model = test::random_model(c, 3);
  Decoder d(model);
  CHECK(greedy_answer(d, tok, std::string(48, 'a'), 12) == "");  // the prompt fills the context
}

TEST_CASE("QaTally: accuracy, abstention and hallucination rates on a fake answer set") {
  CHECK(is_abstention(kAbstention));
  CHECK(is_abstention("I don't know."));
  CHECK(is_abstention("  i don't know "));
  CHECK_FALSE(is_abstention("I don't know Ironvale."));
  CHECK(unanswerable_group("unseen"));
  CHECK(unanswerable_group("abstain"));
  CHECK_FALSE(unanswerable_group("test"));
  // Known people: 2 right, 1 abstains, 1 wrong claim, 1 empty answer.
  QaTally known;
  known.add("Ironvale.", "Ironvale");
  known.add("  port amberly", "Port Amberly");
  known.add("I don't know.", "Marisport");
  known.add("Marisport", "Ironvale");
  known.add("", "Ironvale");
  CHECK(known.n == 5);
  CHECK(known.correct == 2);
  CHECK(known.abstained == 1);
  CHECK(known.asserted == 3);
  CHECK(known.made_up == 1);
  CHECK(known.accuracy() == Approx(0.4));
  CHECK(known.abstention_rate() == Approx(0.2));          // over-abstention
  CHECK(known.hallucination_rate(false) == Approx(0.2));  // the one wrong claim
  // Unseen people: 3 abstain, 1 invents a city (here a lucky match), 1 a wrong one.
  QaTally unseen;
  for (int i = 0; i < 3; ++i) unseen.add("I don't know.", "Ironvale");
  unseen.add("Ironvale", "Ironvale");
  unseen.add("Marisport", "Ironvale");
  CHECK(unseen.abstention_rate() == Approx(0.6));
  CHECK(unseen.hallucination_rate(true) == Approx(0.4));  // any claim is made up, lucky or not
  CHECK(unseen.hallucination_rate(false) == Approx(0.2));
  // Abstain group: the reference itself is the abstention, so abstaining is correct.
  QaTally abstain;
  abstain.add("I don't know.", "I don't know.");
  abstain.add("Ironvale", "I don't know.");
  CHECK(abstain.accuracy() == Approx(0.5));
  CHECK(abstain.hallucination_rate(true) == Approx(0.5));
  CHECK(QaTally{}.accuracy() == 0.0);
  CHECK(QaTally{}.hallucination_rate(true) == 0.0);
}
