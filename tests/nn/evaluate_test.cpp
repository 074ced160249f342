// evaluate_test.cpp: the windowed next-token loss of `cpurich eval`, against
// a direct computation written from its definition, and the id-file parser.
#include "nn/evaluate.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "nn/gpt_naive.h"
#include "nn_test_util.h"

using namespace cpurich;
using namespace cpurich::naive;
using namespace cpurich::testing;

namespace {

// Straight from the definition: id i (>= 1) lies in window w = (i-1) / b,
// which starts at w*b; it is predicted from ids[w*b .. i-1]. The logits come
// from the independent double-precision forward in nn/gpt_naive.h.
double direct_loss(const GPTConfig& cfg, const Params& params, const std::vector<int32_t>& ids,
                   int64_t b) {
  double sum = 0;
  for (size_t i = 1; i < ids.size(); ++i) {
    const size_t start = (i - 1) / static_cast<size_t>(b) * static_cast<size_t>(b);
    const std::vector<int32_t> context(ids.begin() + static_cast<std::ptrdiff_t>(start),
                                       ids.begin() + static_cast<std::ptrdiff_t>(i));
    REQUIRE(static_cast<int64_t>(context.size()) <= b);
    const Mat logits = gpt_logits(cfg, params, context);
    sum += nll(logits.back(), ids[i]);
  }
  return sum / static_cast<double>(ids.size() - 1);
}

}  // namespace

TEST_CASE("evaluate_ids matches the windowing definition", "[nn]") {
  const GPTConfig cfg = toy_config(1);  // n_positions 6
  GPT model(cfg, 21, DType::F64);
  randomize(model, 22);
  auto params = to_doubles(model.state_dict());
  std::vector<int32_t> ids(14);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 5 + 2) % 11);
  // b = 4: windows [0..4] [4..8] [8..12] [12..13] (the last shorter, 1 prediction).
  // b = 1: every window is a pair, each prediction sees one id.
  // b = 6 (= n_positions, the default): 13 = 6 + 6 + 1 predictions.
  // b = 13 would exceed n_positions; b = 3 with 13 predictions: no short window.
  for (int64_t b : {4, 1, 6, 3}) {
    for (int64_t batch : {1, 2, 8}) {
      INFO("block " << b << " batch " << batch);
      const EvalResult r = evaluate_ids(model, ids, b, batch);
      CHECK(r.tokens == 13);
      // F64 model vs F64 reference: only the summation order differs.
      CHECK(r.loss == Approx(direct_loss(cfg, params, ids, b)).epsilon(1e-10));
      CHECK(r.ppl == Approx(std::exp(r.loss)).epsilon(1e-12));
    }
  }
  CHECK(evaluate_ids(model, ids).loss == Approx(direct_loss(cfg, params, ids, 6)).epsilon(1e-10));
  // Different windowings give different losses (less context -> another number).
  CHECK(evaluate_ids(model, ids, 1).loss != Approx(evaluate_ids(model, ids, 6).loss).epsilon(1e-6));
  // Two ids: one window of one prediction.
  const std::vector<int32_t> two = {3, 7};
  CHECK(evaluate_ids(model, two).loss == Approx(direct_loss(cfg, params, two, 6)).epsilon(1e-10));
}

TEST_CASE("evaluate_ids rejects too few ids, bad blocks and out-of-vocab ids", "[nn]") {
  GPT model(toy_config(1), 1);
  const std::vector<int32_t> one = {3};
  CHECK_THROWS_WITH(evaluate_ids(model, one), Catch::Contains("at least 2"));
  const std::vector<int32_t> ids = {1, 2, 3};
  CHECK_THROWS_WITH(evaluate_ids(model, ids, 7), Catch::Contains("n_positions = 6"));
  const std::vector<int32_t> bad = {1, 2, 11};
  CHECK_THROWS_WITH(evaluate_ids(model, bad), Catch::Contains("position 2"));
}

TEST_CASE("parse_token_ids reads whitespace-separated ids and names bad tokens", "[nn]") {
  CHECK(parse_token_ids(" 1 2\n3\t 10\r\n", 11, "f") == std::vector<int32_t>{1, 2, 3, 10});
  CHECK(parse_token_ids("", 11, "f").empty());
  CHECK_THROWS_WITH(parse_token_ids("1 2\n3 x4 5", 11, "ids.txt"),
                    Catch::Contains("ids.txt: token 3 (line 2) \"x4\" is not an integer"));
  CHECK_THROWS_WITH(parse_token_ids("1 2.5", 11, "f"), Catch::Contains("token 1"));
  CHECK_THROWS_WITH(parse_token_ids("1 11", 11, "f"),
                    Catch::Contains("token 1 (line 1) \"11\" is outside the vocabulary [0, 11)"));
  CHECK_THROWS_WITH(parse_token_ids("-1", 11, "f"), Catch::Contains("outside"));
  CHECK_THROWS_WITH(parse_token_ids("99999999999999999999", 11, "f"),
                    Catch::Contains("not an integer"));
}
