// evaluate.cpp: the windowed next-token loss of evaluate.h, and the parser
// for id files. Full windows share one shape, so they run in batches; only
// the last, shorter window runs alone.
#include "nn/evaluate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "autograd/ops.h"

namespace cpurich {

namespace {

// Sum (not mean) of the next-token losses of `count` windows of T+1 ids
// starting at ids[first], ids[first+T], ... (consecutive windows share an id).
double windows_loss_sum(GPT& model, std::span<const int32_t> ids, int64_t first, int64_t count,
                        int64_t T) {
  std::vector<int32_t> inputs, targets;
  inputs.reserve(static_cast<size_t>(count * T));
  targets.reserve(static_cast<size_t>(count * T));
  for (int64_t w = 0; w < count; ++w) {
    const auto start = static_cast<size_t>(first + w * T);
    inputs.insert(inputs.end(), ids.begin() + start, ids.begin() + start + T);
    targets.insert(targets.end(), ids.begin() + start + 1, ids.begin() + start + T + 1);
  }
  const Var mean = model.loss(inputs, targets, count, T);
  return mean.value().item() * static_cast<double>(count * T);
}

}  // namespace

EvalResult evaluate_ids(GPT& model, std::span<const int32_t> ids, int64_t block, int64_t batch) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t P = model.config().n_positions;
  const int64_t b = block == 0 ? P : block;
  if (n < 2) throw std::invalid_argument("need at least 2 token ids, got " + std::to_string(n));
  if (b < 1 || b > P)
    throw std::invalid_argument("block " + std::to_string(b) +
                                " must be in [1, n_positions = " + std::to_string(P) + "]");
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  const int64_t V = model.config().vocab_size;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw std::invalid_argument("token id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is outside the vocabulary [0, " +
                                  std::to_string(V) + ")");
  NoGradGuard no_grad;
  const int64_t full = (n - 1) / b;         // windows with all b predictions
  const int64_t rest = (n - 1) - full * b;  // predictions of the last, shorter window
  double sum = 0.0;
  for (int64_t w = 0; w < full; w += batch)
    sum += windows_loss_sum(model, ids, w * b, std::min(batch, full - w), b);
  if (rest > 0) sum += windows_loss_sum(model, ids, full * b, 1, rest);
  EvalResult r;
  r.tokens = n - 1;
  r.loss = sum / static_cast<double>(n - 1);
  r.ppl = std::exp(r.loss);
  return r;
}

std::vector<int32_t> parse_token_ids(std::string_view text, int64_t vocab_size,
                                     const std::string& what) {
  std::vector<int32_t> ids;
  int64_t line = 1;
  size_t i = 0;
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (i < text.size()) {
    if (is_space(text[i])) {
      line += text[i] == '\n';
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    const std::string_view token = text.substr(i, j - i);
    const std::string where = what + ": token " + std::to_string(ids.size()) + " (line " +
                              std::to_string(line) + ") \"" + std::string(token.substr(0, 40)) +
                              "\"";
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || end != token.data() + token.size())
      throw std::invalid_argument(where + " is not an integer token id");
    if (value < 0 || value >= vocab_size)
      throw std::invalid_argument(where + " is outside the vocabulary [0, " +
                                  std::to_string(vocab_size) + ")");
    ids.push_back(static_cast<int32_t>(value));
    i = j;
  }
  return ids;
}

}  // namespace cpurich
