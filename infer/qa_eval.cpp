// qa_eval.cpp: greedy answers and answer normalisation (see qa_eval.h).
#include "infer/qa_eval.h"

#include <algorithm>

#include "infer/generate.h"

namespace cpurich {

std::string normalize_answer(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_abstention(std::string_view answer) {
  return normalize_answer(answer) == normalize_answer(kAbstention);
}

bool unanswerable_group(std::string_view group) {
  return group == "unseen" || group == "abstain";
}

void QaTally::add(std::string_view model_answer, std::string_view reference) {
  const std::string got = normalize_answer(model_answer);
  const bool ok = got == normalize_answer(reference);
  const bool abstain = is_abstention(model_answer);
  ++n;
  correct += ok;
  abstained += abstain;
  asserted += !abstain && !got.empty();
  made_up += !abstain && !got.empty() && !ok;
}

namespace {
double share(int64_t k, int64_t n) {
  return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0;
}
}  // namespace

double QaTally::accuracy() const {
  return share(correct, n);
}
double QaTally::abstention_rate() const {
  return share(abstained, n);
}
double QaTally::hallucination_rate(bool unanswerable) const {
  return share(unanswerable ? asserted : made_up, n);
}

std::string greedy_answer(Decoder& decoder, const Tokenizer& tokenizer, std::string_view prompt,
                          int64_t max_new_tokens) {
  const auto ids = tokenizer.encode(prompt);
  const int64_t room = decoder.config().n_positions - static_cast<int64_t>(ids.size());
  if (ids.empty() || room < 1) return "";
  GenerateOptions options;
  options.sampler.temperature = 0.0;  // greedy
  options.max_new_tokens = std::min(max_new_tokens, room);
  options.stop = {"\n"};
  const GenerateResult r = generate(decoder, tokenizer, ids, options);
  std::string text = r.text;
  const size_t b = text.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  text = text.substr(b);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.pop_back();
  return text;
}

}  // namespace cpurich
