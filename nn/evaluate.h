// evaluate.h: how well does a model predict a token stream? The mean
// next-token cross-entropy (in nats) and its exponential, the perplexity.
//
// Windowing (the definition `cpurich eval` uses): with ids x0..x_{n-1} and a
// block size b <= n_positions, window w holds x[w*b .. w*b+b] (b+1 ids;
// neighbouring windows share one id; the last may be shorter). A window
// predicts each of its ids after the first from the ids before it within the
// window, so every id after x0 is predicted exactly once, with at most b ids
// of context. The loss is the mean over those n-1 predictions (each window
// weighted by its number of predictions); perplexity = exp(loss).
//
// Note the context resets at each window start: the first prediction of a
// window sees 1 id, the last sees b. A sliding window (stride < b) would give
// every prediction more context, at b/stride times the cost.
//
// Pipeline position: tokens -> model -> [loss / perplexity].
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nn/gpt.h"

namespace cpurich {

/// Result of evaluate_ids.
struct EvalResult {
  double loss = 0.0;   ///< mean next-token cross-entropy, nats
  double ppl = 0.0;    ///< exp(loss)
  int64_t tokens = 0;  ///< number of predictions: n - 1
};

/// The windowed loss defined above, computed without recording a graph.
/// block = 0 means n_positions; batch = how many full windows run per forward.
/// Throws std::invalid_argument if ids.size() < 2, block > n_positions or an id
/// is >= vocab_size.
EvalResult evaluate_ids(GPT& model, std::span<const int32_t> ids, int64_t block = 0,
                        int64_t batch = 8);

/// Parses whitespace-separated decimal token ids. Throws
/// std::invalid_argument naming `what`, the token's position (0-based index
/// and line) and the text when a token is not an integer or is outside
/// [0, vocab_size).
std::vector<int32_t> parse_token_ids(std::string_view text, int64_t vocab_size,
                                     const std::string& what);

}  // namespace cpurich
