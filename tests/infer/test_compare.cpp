// test_compare.cpp: infer/compare.h: the KL between next-token distributions
// (checked against a hand-computed value and against prefills), and a model
// compared with its own q8_0 / q4_0 copies: q8_0 is closer in every measure.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "infer/compare.h"
#include "nn/evaluate.h"
#include "nn/quant_io.h"
#include "test_util.h"
#include "tests/common/temp_dir.h"

using namespace cpurich;

namespace {

GPTConfig compare_config() {  // input dims 64 and 256: every format quantizes every matrix
  return {.n_layer = 2, .n_head = 2, .n_embd = 64, .n_positions = 16, .vocab_size = 58};
}

/// A random model with weights of std 0.1 (GPT-2's 0.02 gives nearly uniform
/// next-token distributions, where KL and top-1 say little).
GPT random_model(uint64_t seed) {
  GPT model(compare_config(), seed);
  Rng rng(seed + 7);
  std::map<std::string, Tensor> sd;
  for (const auto& [name, t] : model.state_dict())
    sd[name] = name.find("ln_") != std::string::npos && name.ends_with(".weight")
                   ? t
                   : rng.normal(t.shape(), 0.0, 0.1);
  model.load_state_dict(sd);
  return model;
}

std::vector<int32_t> some_ids(int64_t n, int32_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 37 + 11) % vocab));
  return ids;
}

}  // namespace

TEST_CASE("kl_from_logits matches KL computed by hand", "[infer][compare]") {
  // p = softmax(0, 0) = (1/2, 1/2); q = softmax(ln 3, 0) = (3/4, 1/4):
  // KL = 1/2 ln((1/2)/(3/4)) + 1/2 ln((1/2)/(1/4)) = 1/2 ln(4/3).
  const std::vector<float> p = {0.0f, 0.0f};
  const std::vector<float> q = {static_cast<float>(std::log(3.0)), 0.0f};
  CHECK(kl_from_logits(p, q) == Approx(0.5 * std::log(4.0 / 3.0)).epsilon(1e-6));
  CHECK(kl_from_logits(p, p) == 0.0);
  CHECK(kl_from_logits(q, q) == 0.0);
  CHECK_THROWS_AS(kl_from_logits(p, std::vector<float>{0.0f}), std::invalid_argument);
}

TEST_CASE("next_token_kl: windows, limits, and the same values as prefills", "[infer][compare]") {
  const GPT model = random_model(1);
  const auto q4 = quantize_model(model, {.format = QuantFormat::Q4_0});
  Decoder ref(model), same(model), var(model, q4);
  const auto ids = some_ids(23, 58);
  const KLStats self = next_token_kl(ref, same, ids, 5);
  CHECK(self.positions == 22);  // every id after the first, once
  CHECK(self.mean == 0.0);
  CHECK(self.p99 == 0.0);
  CHECK(self.same_top1 == 1.0);
  CHECK(next_token_kl(ref, var, ids, 5, 10).positions == 10);

  // Position t of the first window, one step at a time, is the prefill of ids[0..t].
  const KLStats one = next_token_kl(ref, var, ids, 0, 1);
  const KLStats three = next_token_kl(ref, var, ids, 0, 3);
  std::vector<double> prefill;
  for (size_t t = 0; t < 3; ++t) {
    ref.reset();
    var.reset();
    const auto span = std::span<const int32_t>(ids).first(t + 1);
    const auto p = ref.append(span);
    const std::vector<float> p_copy(p.begin(), p.end());
    prefill.push_back(kl_from_logits(p_copy, var.append(span)));
  }
  CHECK(prefill[0] > 0.0);
  CHECK(one.mean == Approx(prefill[0]).epsilon(1e-4));
  CHECK(three.mean == Approx((prefill[0] + prefill[1] + prefill[2]) / 3).epsilon(1e-4));
  CHECK(three.p99 == Approx(std::max({prefill[0], prefill[1], prefill[2]})).epsilon(1e-4));

  CHECK_THROWS_AS(next_token_kl(ref, var, std::vector<int32_t>{1}), std::invalid_argument);
  CHECK_THROWS_AS(next_token_kl(ref, var, ids, 17), std::invalid_argument);
}

TEST_CASE("compare_models: fp32 vs its q8_0 and q4_0 copies", "[infer][compare]") {
  const GPT model = random_model(2);
  test::TempDir dir("compare");
  const std::string fp32 = dir.file("fp32"), q8 = dir.file("q8"), q4 = dir.file("q4");
  save_model(model, fp32);
  save_quantized_model(model, quantize_model(model, {.format = QuantFormat::Q8_0}), q8);
  save_quantized_model(model, quantize_model(model, {.format = QuantFormat::Q4_0}), q4);
  const test::AlphabetTokenizer tok;
  const auto ids = some_ids(200, 58);
  const std::vector<QAItem> qa = {{.prompt = "Q: a?\nA:", .answer = "b"},
                                  {.prompt = "Q: c?\nA:", .answer = "d"}};
  const auto rows = compare_models(fp32, {q8, q4}, ids, qa, tok,
                                   {.block = 0, .kl_positions = 100, .decode_tokens = 8});
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].format == "fp32");
  CHECK(rows[0].bits_per_weight == 32.0);
  CHECK(rows[0].size_ratio == 1.0);
  CHECK(rows[0].delta_loss_pct == 0.0);
  CHECK(rows[1].format == "q8_0");
  CHECK(rows[1].bits_per_weight == 8.5);  // every matrix: 34 bytes per 32 weights
  CHECK(rows[2].bits_per_weight == 4.5);  // 18 bytes per 32 weights
  // The file also holds the F32 biases and LayerNorms, so a little over 8.5/32.
  CHECK(rows[1].size_ratio > 8.5 / 32);
  CHECK(rows[1].size_ratio < 0.3);
  CHECK(rows[2].size_ratio < rows[1].size_ratio);
  for (const auto& r : rows) {
    CHECK(r.loss_tokens == 199);
    CHECK(r.qa_n == 2);
    CHECK(r.decode_tokens == 8);
    CHECK(r.decode_tokens_per_s > 0.0);
  }
  // The loss is evaluate_ids on the dequantized model, bit for bit.
  GPT deq = load_model(q4);
  CHECK(rows[2].loss == evaluate_ids(deq, ids).loss);
  CHECK(rows[2].delta_loss_pct == 100.0 * (rows[2].loss - rows[0].loss) / rows[0].loss);
  CHECK(rows[1].kl.positions == 100);
  CHECK(rows[1].kl.mean > 0.0);
  CHECK(rows[1].kl.mean < rows[2].kl.mean);
  CHECK(rows[1].kl.p99 < rows[2].kl.p99);
  CHECK(rows[1].kl.same_top1 >= rows[2].kl.same_top1);

  GPT other(GPTConfig{.n_layer = 1, .n_head = 2, .n_embd = 64, .n_positions = 16, .vocab_size = 58},
            3);
  save_model(other, dir.file("other"));
  CHECK_THROWS_WITH(compare_models(fp32, {dir.file("other")}, ids, {}, tok, {}),
                    Catch::Contains("has a different config.json"));
}
