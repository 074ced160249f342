// qa_eval.h: what does the model know? Greedy answers to questions, graded by
// exact match.
//
// What it teaches: a knowledge probe must not reward luck or style. The model
// answers with greedy decoding (always the most likely token: its single best
// guess, reproducible) after the chat prompt, and stops at the end of the
// line. Answer and reference are normalised the same way before comparing
// (surrounding spaces and a final '.' dropped, inner runs of spaces collapsed,
// ASCII letters lower-cased), so "  Ironvale." matches "Ironvale" but
// "Iron vale" does not. On the world corpus the groups answer different
// questions: train (fine-tuned on: memorised?), test (read in pretraining
// only: extracted?), unseen (never read: anything but a guess is made up).
// So beside accuracy a tally counts abstentions ("I don't know."): for people
// the model never read about, the hallucination rate is the share of answers
// that assert something instead of abstaining; for people it did read about,
// the abstention rate is over-abstention and the hallucination rate the share
// of answers asserting a wrong fact.
//
// Pipeline position: model -> [greedy answers -> exact match] -> accuracy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "infer/decoder.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// Trim, collapse whitespace runs to one space, drop one final '.', lower-case ASCII.
std::string normalize_answer(std::string_view s);

/// The abstention; the same string as train/world.h's kDontKnow, which the
/// fine-tuning set's abstention examples teach.
inline constexpr const char* kAbstention = "I don't know.";

/// True when `answer` is kAbstention after normalize_answer on both.
bool is_abstention(std::string_view answer);

/// True for groups whose people were never in the corpus ("unseen",
/// "abstain"): there every asserted answer is made up.
bool unanswerable_group(std::string_view group);

/// Counts over one group of questions; add() grades one answer.
struct QaTally {
  int64_t n = 0;          ///< questions asked
  int64_t correct = 0;    ///< exact matches (an abstention is correct only if the reference is one)
  int64_t abstained = 0;  ///< answers that were kAbstention
  int64_t asserted = 0;   ///< answers neither empty nor an abstention
  int64_t made_up = 0;    ///< asserted and not correct
  void add(std::string_view model_answer, std::string_view reference);
  double accuracy() const;         ///< correct / n
  double abstention_rate() const;  ///< abstained / n
  /// asserted / n if `unanswerable` (never read: any claim is invented),
  /// else made_up / n (read: a wrong claim is invented). 0 when n == 0.
  double hallucination_rate(bool unanswerable) const;
};

/// The model's greedy continuation of `prompt` up to the first newline (at
/// most max_new_tokens tokens, and never past the context window), trimmed.
/// "" when the prompt alone fills the context.
std::string greedy_answer(Decoder& decoder, const Tokenizer& tokenizer, std::string_view prompt,
                          int64_t max_new_tokens);

}  // namespace cpurich
