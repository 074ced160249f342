// test_model.cpp: each method over a whole (toy) GPT: calibration shapes,
// GPTQ and imatrix beating plain rounding layer by layer on the model's own
// inputs, pruning to the exact sparsity, low rank to the exact rank.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "compress/imatrix.h"
#include "compress/lowrank.h"
#include "compress/model.h"
#include "compress_test_util.h"
#include "tensor/rng.h"

using namespace cpurich;
using namespace cpurich::compress;
using cpurich::test::dequantized;

namespace {

GPTConfig toy() {
  GPTConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  c.n_positions = 16;
  c.vocab_size = 29;
  return c;
}

std::vector<int32_t> toy_ids(int64_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7 + i / 5) % 29);
  return ids;
}

/// sum over rows of dw H dw^T / 2: the output error on the calibration inputs.
double hessian_error(const std::vector<double>& w, const std::vector<double>& w_hat, int64_t out,
                     int64_t in, const std::vector<double>& h) {
  double e = 0.0;
  std::vector<double> d(static_cast<size_t>(in));
  for (int64_t r = 0; r < out; ++r) {
    for (int64_t c = 0; c < in; ++c) d[c] = w[r * in + c] - w_hat[r * in + c];
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) e += d[i] * h[i * in + j] * d[j] / 2.0;
  }
  return e;
}

std::vector<double> logits(GPT& model, const std::vector<int32_t>& ids) {
  NoGradGuard g;
  return model.forward(ids, 1, static_cast<int64_t>(ids.size())).value().to_vector();
}

}  // namespace

TEST_CASE("calibration records every Linear's inputs with the right shapes") {
  const GPT model(toy(), 5);
  const auto ids = toy_ids(40);  // windows of 16, 16 and 8
  const Calibration cal = collect_calibration(model, ids, 16);
  REQUIRE(cal.size() == 8);
  for (const std::string& name : linear_names(model.config())) {
    const LinearStats& s = cal.at(name);
    CHECK(s.samples == 40);
    CHECK(s.in == (name.ends_with("mlp.c_proj") ? 128 : 32));
    for (int64_t i = 0; i < s.in; ++i) CHECK(s.sq[i] == Approx(s.xtx[i * s.in + i]));
  }
  // Layer 0's c_attn reads ln_1(wte[id] + wpe[t]) with unit gain and zero
  // bias (init): per token, sum_c x_c^2 = C var / (var + eps), so the trace
  // of X^T X follows from the embeddings alone.
  const auto wte = model.wte().weight.value().to_vector();
  const auto wpe = model.wpe().weight.value().to_vector();
  double expect = 0.0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const size_t t = i % 16;
    double mean = 0.0, var = 0.0;
    for (int64_t c = 0; c < 32; ++c) mean += (wte[ids[i] * 32 + c] + wpe[t * 32 + c]) / 32.0;
    for (int64_t c = 0; c < 32; ++c) {
      const double d = wte[ids[i] * 32 + c] + wpe[t * 32 + c] - mean;
      var += d * d / 32.0;
    }
    expect += 32.0 * var / (var + model.config().layer_norm_epsilon);
  }
  double trace = 0.0;
  for (double v : cal.at("h.0.attn.c_attn").sq) trace += v;
  CHECK(trace == Approx(expect).epsilon(1e-4));
  CHECK_THROWS_AS(collect_calibration(model, ids, 17), std::invalid_argument);
  CHECK_THROWS_AS(collect_calibration(model, {}, 16), std::invalid_argument);
}

TEST_CASE("model GPTQ and imatrix beat plain rounding on the model's own inputs") {
  GPT model(toy(), 6);
  const Calibration cal = collect_calibration(model, toy_ids(64), 16);
  for (QuantFormat f : {QuantFormat::Q4_0, QuantFormat::Q4_1}) {
    const QuantizedWeights g = quantize_model_gptq(model, cal, {.format = f});
    const QuantizedWeights im = quantize_model_imatrix(model, cal, f);
    REQUIRE(g.size() == 8);
    double e_rtn = 0.0, e_gptq = 0.0, w_rtn = 0.0, w_im = 0.0;
    for (const std::string& name : linear_names(model.config())) {
      const QuantMatrix& q = g.at(name + ".weight");
      const auto w = linear_weight_out_in(model, name);
      const std::vector<float> wf(w.begin(), w.end());
      CHECK(q.rows == find_linear(model, name).weight.shape()[1]);  // out
      const QuantMatrix rtn = quantize_matrix(f, wf, q.rows, q.cols);
      const auto h = cal.at(name).hessian();
      e_rtn += hessian_error(w, dequantized(rtn), q.rows, q.cols, h);
      e_gptq += hessian_error(w, dequantized(q), q.rows, q.cols, h);
      const auto imp = cal.at(name).mean_square();
      w_rtn += weighted_error(rtn, wf, imp);
      w_im += weighted_error(im.at(name + ".weight"), wf, imp);
    }
    INFO("rtn " << e_rtn << " gptq " << e_gptq << " | weighted rtn " << w_rtn << " imatrix "
                << w_im);
    CHECK(e_gptq < e_rtn);
    CHECK(w_im < w_rtn);
  }
}

TEST_CASE("prune_model reaches the sparsity, lowrank_model the rank") {
  GPT model(toy(), 7);
  const auto ids = toy_ids(48);
  const Calibration cal = collect_calibration(model, ids, 16);
  for (const char* m : {"magnitude", "wanda", "sparsegpt"}) {
    GPT copy = GPT::zeros(model.config());
    copy.load_state_dict(model.state_dict());
    prune_model(copy, cal, {.method = parse_prune_method(m), .sparsity = 0.5});
    CHECK(linear_sparsity(copy) == 0.5);
    for (double v : logits(copy, std::vector<int32_t>(ids.begin(), ids.begin() + 16)))
      CHECK(std::isfinite(v));
  }
  CHECK_THROWS_AS(prune_model(model, {}, {.method = PruneMethod::Wanda}), std::invalid_argument);

  GPT full = GPT::zeros(model.config());
  full.load_state_dict(model.state_dict());
  const std::vector<int32_t> w16(ids.begin(), ids.begin() + 16);
  const auto before = logits(full, w16);
  lowrank_model(full, 32);  // >= min(in, out) of every Linear: nothing changes
  CHECK(logits(full, w16) == before);
  lowrank_model(model, 3);
  for (const std::string& name : linear_names(model.config())) {
    const Shape& s = find_linear(model, name).weight.shape();
    const Svd d = svd(linear_weight_out_in(model, name), s[1], s[0]);
    CHECK(d.s[3] < 1e-5 * d.s[0]);  // f32 storage: rank 3 up to rounding
  }
}
