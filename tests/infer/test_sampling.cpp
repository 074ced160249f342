// Samplers on hand-made distributions: each filter must keep exactly the
// candidate set its definition says, and reject invalid settings clearly.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "infer/sampling.h"

using namespace cpurich;

namespace {

// Token ids whose logit survived a filter (is not -inf).
std::set<int32_t> kept(const std::vector<float>& logits) {
  std::set<int32_t> out;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -INFINITY) out.insert(static_cast<int32_t>(i));
  return out;
}

// Logits whose softmax is exactly proportional to probs (log p).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> z;
  for (double p : probs) z.push_back(static_cast<float>(std::log(p)));
  return z;
}

std::string message_of(const SamplerOptions& c, int64_t vocab) {
  try {
    c.validate(vocab);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("argmax picks the first maximum") {
  const std::vector<float> z = {1.0f, 3.0f, -2.0f, 3.0f};
  CHECK(argmax(z) == 1);
}

TEST_CASE("top-k keeps exactly the k largest, ties by lower id") {
  std::vector<int32_t> order;
  std::vector<float> z = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, 0.0f};
  top_k_filter(z, 3, order);
  CHECK(kept(z) == std::set<int32_t>{1, 3, 4});
  std::vector<float> ties = {1.0f, 1.0f, 1.0f, 1.0f};
  top_k_filter(ties, 2, order);
  CHECK(kept(ties) == std::set<int32_t>{0, 1});
  std::vector<float> all = {1.0f, 2.0f};
  top_k_filter(all, 2, order);
  CHECK(kept(all) == std::set<int32_t>{0, 1});
}

TEST_CASE("top-p keeps the smallest prefix reaching p") {
  std::vector<int32_t> order;
  // Sorted probabilities 0.5, 0.25, 0.15, 0.1 (ids 2, 0, 3, 1).
  const std::vector<double> probs = {0.25, 0.1, 0.5, 0.15};
  auto z = logits_of(probs);
  top_p_filter(z, 0.6, order);  // 0.5 < 0.6 <= 0.75
  CHECK(kept(z) == std::set<int32_t>{2, 0});
  z = logits_of(probs);
  top_p_filter(z, 0.8, order);  // 0.75 < 0.8 <= 0.9
  CHECK(kept(z) == std::set<int32_t>{2, 0, 3});
  z = logits_of(probs);
  top_p_filter(z, 0.3, order);  // the top token alone already reaches 0.3
  CHECK(kept(z) == std::set<int32_t>{2});
  z = logits_of(probs);
  top_p_filter(z, 1.0, order);
  CHECK(kept(z).size() == 4);
}

TEST_CASE("min-p keeps tokens with p >= min_p * p_max") {
  const std::vector<double> probs = {0.4, 0.3, 0.2, 0.1};
  auto z = logits_of(probs);
  min_p_filter(z, 0.6);  // threshold 0.24: keeps 0.4 and 0.3
  CHECK(kept(z) == std::set<int32_t>{0, 1});
  z = logits_of(probs);
  min_p_filter(z, 0.45);  // threshold 0.18: keeps 0.4, 0.3, 0.2
  CHECK(kept(z) == std::set<int32_t>{0, 1, 2});
  z = logits_of(probs);
  min_p_filter(z, 0.0);
  CHECK(kept(z).size() == 4);
}

TEST_CASE("repetition penalty divides positive and multiplies negative logits once") {
  std::vector<uint8_t> seen;
  std::vector<float> z = {2.0f, -1.0f, 3.0f, 0.5f};
  const std::vector<int32_t> context = {0, 1, 0, 0};  // token 0 three times, penalised once
  apply_repetition_penalty(z, context, 2.0, seen);
  CHECK(z[0] == 1.0f);
  CHECK(z[1] == -2.0f);
  CHECK(z[2] == 3.0f);
  CHECK(z[3] == 0.5f);
}

TEST_CASE("temperature divides the logits") {
  std::vector<float> z = {1.0f, -2.0f};
  apply_temperature(z, 0.5);
  CHECK(z[0] == 2.0f);
  CHECK(z[1] == -4.0f);
}

TEST_CASE("sample_from_logits follows the cumulative distribution") {
  const auto z = logits_of({0.5, 0.25, 0.25});
  CHECK(sample_from_logits(z, 0.0) == 0);
  CHECK(sample_from_logits(z, 0.49) == 0);
  CHECK(sample_from_logits(z, 0.51) == 1);
  CHECK(sample_from_logits(z, 0.74) == 1);
  CHECK(sample_from_logits(z, 0.76) == 2);
  CHECK(sample_from_logits(z, 0.999999) == 2);
  const std::vector<float> masked = {-INFINITY, 0.0f, -INFINITY};
  for (double u : {0.0, 0.5, 0.999999}) CHECK(sample_from_logits(masked, u) == 1);
}

TEST_CASE("sampler: temperature 0 is greedy, a seed fixes the draws") {
  const std::vector<float> base = {0.1f, 0.3f, 0.2f, 0.25f, 0.15f};
  SamplerOptions greedy;
  greedy.temperature = 0.0;
  Sampler g(greedy, 5);
  for (int i = 0; i < 5; ++i) {
    auto z = base;
    CHECK(g.next(z, {}) == 1);
  }
  auto draws = [&](uint64_t seed) {
    SamplerOptions c;
    c.seed = seed;
    Sampler s(c, 5);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      auto z = base;
      out.push_back(s.next(z, {}));
    }
    return out;
  };
  CHECK(draws(7) == draws(7));
  CHECK(draws(7) != draws(8));
  // With top-k 2 only ids 1 and 3 may ever come out.
  SamplerOptions k2;
  k2.top_k = 2;
  Sampler s(k2, 5);
  for (int i = 0; i < 64; ++i) {
    auto z = base;
    const int32_t t = s.next(z, {});
    CHECK((t == 1 || t == 3));
  }
}

TEST_CASE("invalid sampler values are rejected with clear messages") {
  SamplerOptions ok;
  CHECK_NOTHROW(ok.validate(65));
  SamplerOptions c;
  c.temperature = -0.5;
  CHECK_THAT(message_of(c, 65), Catch::Contains("temperature must be >= 0"));
  c.temperature = std::nan("");
  CHECK_THAT(message_of(c, 65), Catch::Contains("temperature"));
  c = ok;
  c.top_k = 0;
  CHECK_THAT(message_of(c, 65),
             Catch::Contains("top-k must be between 1 and the vocabulary size 65"));
  c.top_k = 66;
  CHECK_THAT(message_of(c, 65), Catch::Contains("got 66"));
  c = ok;
  c.top_p = 0.0;
  CHECK_THAT(message_of(c, 65), Catch::Contains("top-p must be in (0, 1]"));
  c.top_p = 1.5;
  CHECK_THAT(message_of(c, 65), Catch::Contains("got 1.5"));
  c = ok;
  c.min_p = 1.0;
  CHECK_THAT(message_of(c, 65), Catch::Contains("min-p must be in [0, 1)"));
  c.min_p = -0.1;
  CHECK_THAT(message_of(c, 65), Catch::Contains("min-p"));
  c = ok;
  c.repetition_penalty = 0.0;
  CHECK_THAT(message_of(c, 65), Catch::Contains("repetition penalty must be"));
  CHECK_THROWS_AS(Sampler(c, 65), std::invalid_argument);
}
