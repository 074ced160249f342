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

/// The model's greedy continuation of `prompt` up to the first newline (at
/// most max_new_tokens tokens, and never past the context window), trimmed.
/// "" when the prompt alone fills the context.
std::string greedy_answer(Decoder& decoder, const Tokenizer& tokenizer, std::string_view prompt,
                          int64_t max_new_tokens);

}  // namespace cpurich
