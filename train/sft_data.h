// sft_data.h: question/answer pairs -> padded, loss-masked fine-tuning batches.
//
// What it teaches: supervised fine-tuning (SFT) is still next-token
// prediction, but only the answer is graded. Each pair is rendered in the
// chat template the model is asked with,
//     prompt      "### Human: <question>\n### Assistant:"
//     completion  " <answer>\n"
// and tokenized as encode(prompt) ++ encode(completion) (separately, so the
// prompt's tokens are exactly those `cpurich chat` feeds at inference). With
// ids x_0 .. x_{n-1} and n_p prompt tokens, position t reads x_t and is
// graded on x_{t+1} only when t+1 >= n_p; every other target is -1, which
// ag::cross_entropy ignores. The mean loss is thus over answer tokens only:
// the model learns to answer, not to ask.
//
// Padding, not packing: each row of a batch holds one example, padded on the
// right (input id 0, target -1) to the longest example of the batch. Packing
// several examples into one row would need an attention mask that stops them
// seeing each other (block-diagonal, not just causal); padding keeps the
// plain causal attention and costs only the padded positions' compute, small
// when examples have similar lengths (as Q/A pairs do). An example longer
// than block + 1 tokens is cut to block + 1 (counted as truncated); one whose
// cut leaves no answer token is dropped (counted too).
//
// Pipeline position: Q/A files -> [SFT examples -> batches] -> model -> loss.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/rng.h"
#include "tokenizer/tokenizer.h"
#include "train/dataset.h"

namespace cpurich {

/// One question and its answer, with where it came from.
struct QAPair {
  std::string question;
  std::string answer;
  std::string group;  ///< e.g. "train", "test", "unseen" (world files); "" if none
  std::string where;  ///< "FILE:LINE", for error messages
};

/// "### Human: <question>\n### Assistant:" (what chat and qa-eval feed the model).
std::string sft_prompt(std::string_view question);
/// " <answer>\n": what the model must write after the prompt.
std::string sft_completion(std::string_view answer);

/// JSONL, one object per non-empty line with string fields "question" and
/// "answer", or "prompt" and "completion" (rendered the same way); an optional
/// string "group" overrides `group`. Throws std::runtime_error "WHAT:LINE: ...".
std::vector<QAPair> parse_qa_jsonl(std::string_view text, const std::string& what,
                                   const std::string& group);
/// Chat text: repeated "### Human: <q>\n### Assistant: <a>\n" (the format of
/// world::chat_format). Throws std::runtime_error "WHAT:LINE: ..." on a turn
/// without its other half or an empty question / answer.
std::vector<QAPair> parse_qa_chat(std::string_view text, const std::string& what,
                                  const std::string& group);
/// A file (.jsonl / .json: JSONL; anything else: chat text) or a directory
/// written by `cpurich data world` (its qa_train, qa_test and qa_unseen.jsonl
/// that exist, in that order). A file's default group is its name without
/// extension and "qa_" prefix ("qa_test.jsonl" -> "test"). Throws
/// std::runtime_error on a missing source or no pairs at all.
std::vector<QAPair> read_qa_source(const std::string& path);

/// One tokenized example: prompt ids then answer ids.
struct SftExample {
  std::vector<int32_t> ids;
  int64_t n_prompt = 0;  ///< ids[0 .. n_prompt) are the prompt
};

/// What building the examples did to the pairs.
struct SftStats {
  int64_t pairs = 0;          ///< pairs read
  int64_t truncated = 0;      ///< cut to block + 1 tokens (kept)
  int64_t dropped = 0;        ///< cut so far that no answer token was left (not kept)
  int64_t answer_tokens = 0;  ///< graded targets over the kept examples
  int64_t max_tokens = 0;     ///< longest example before truncation
};

/// Tokenized, truncated examples for one block size.
struct SftData {
  std::vector<SftExample> examples;
  SftStats stats;
  int64_t block_size = 0;
};

/// Renders and tokenizes every pair (see the file comment). Throws
/// std::runtime_error "WHERE: ..." when the tokenizer cannot encode a pair,
/// and when no example is left.
SftData build_sft_data(std::span<const QAPair> pairs, const Tokenizer& tokenizer,
                       int64_t block_size);

/// Rows = the given examples, padded to the longest (minus one, the shift):
/// inputs (B, T) with pad id 0, targets (B, T) with -1 on prompt and padding.
Batch sft_batch(const SftData& data, std::span<const int64_t> rows);

/// Visits the examples in a fresh random order every epoch (Fisher-Yates
/// from a counter-based Rng): every example is seen once per epoch.
class SftSampler {
 public:
  /// n >= 1 examples.
  SftSampler(int64_t n, uint64_t seed);
  /// The next `count` example indices (an epoch boundary may fall inside).
  std::vector<int64_t> next(int64_t count);
  int64_t epoch() const { return epoch_; }  ///< full passes completed

 private:
  void shuffle();
  std::vector<int64_t> order_;
  int64_t pos_ = 0, epoch_ = 0;
  Rng rng_;
};

}  // namespace cpurich
