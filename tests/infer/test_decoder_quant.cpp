// Decoder on quantized matrices (tensor/quant_matvec.h): its logits match a
// Decoder built on the same weights dequantized to f32, the KV cache changes
// no bit, and the thread count changes no bit, for every format.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "infer/decoder.h"
#include "infer/sampling.h"
#include "tensor/threads.h"
#include "test_util.h"

using namespace cpurich;

namespace {

// 64 wide so that nf4's blocks of 64 fit every matrix (C and 4C).
GPTConfig quant_config() {
  GPTConfig c = test::small_config(64, 20);
  c.n_embd = 64;
  return c;
}

bool is_matrix(const std::string& name) {
  for (const char* m :
       {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"})
    if (name.find(m) != std::string::npos) return true;
  return name == "wte.weight";
}

// Every Linear weight (as (out, in)) and wte quantized to `format`.
std::map<std::string, QuantMatrix> quantize_model(const std::map<std::string, Tensor>& sd,
                                                  QuantFormat format) {
  std::map<std::string, QuantMatrix> q;
  for (const auto& [name, t] : sd) {
    if (!is_matrix(name)) continue;
    const Tensor w = name == "wte.weight" ? t.contiguous() : t.transpose(0, 1).contiguous();
    const auto v = w.span_f32();
    q.emplace(name, quantize_matrix(format, {v.begin(), v.end()}, w.shape()[0], w.shape()[1]));
  }
  return q;
}

// sd with every quantized matrix replaced by its dequantized f32 values.
std::map<std::string, Tensor> dequantized(std::map<std::string, Tensor> sd,
                                          const std::map<std::string, QuantMatrix>& q) {
  for (const auto& [name, m] : q) {
    std::vector<float> w(static_cast<size_t>(m.rows * m.cols));
    dequantize_matrix(m, w);
    const Tensor t = Tensor::from_vector(w, {m.rows, m.cols});
    sd[name] = name == "wte.weight" ? t : t.transpose(0, 1).contiguous();
  }
  return sd;
}

const QuantFormat kFormats[] = {QuantFormat::Int8, QuantFormat::Q8_0, QuantFormat::Q4_0,
                                QuantFormat::Q4_1, QuantFormat::NF4};

}  // namespace

TEST_CASE("quantized decoder matches the decoder on its dequantized weights") {
  const auto config = quant_config();
  // GPT-2's own initialisation (std 0.02, c_proj scaled down): a Linear
  // multiplies its input's scale by ~0.02 sqrt(in) < 1, so an error made in
  // one layer is not amplified by the layers after it (the 0.3-std test
  // model multiplies it by ~2.4 per Linear and would need a looser bound).
  const GPT model(config, 21);
  const auto sd = model.state_dict();
  for (const QuantFormat format : kFormats) {
    INFO("format " << quant_format_info(format).name);
    const auto q = quantize_model(sd, format);
    Decoder quant(config, sd, q), ref(config, dequantized(sd, q));
    CHECK(quant.weight_bytes_per_token() < ref.weight_bytes_per_token());
    std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
    auto a = quant.append(ids);
    auto b = ref.append(ids);
    for (int step = 0; step <= 8; ++step) {
      double scale = 0.0;
      for (float z : b) scale = std::max(scale, static_cast<double>(std::fabs(z)));
      REQUIRE(scale > 0.0);
      // nf4 multiplies f32 activations: only the summation order differs from
      // the f32 decoder (1e-4 x max|logit|, as for GPT::forward). The integer
      // formats round each activation to its block's d_x = max|x|/127 grid, so
      // every product moves by at most sum_c |w_c| d_x / 2, i.e. <= 1/254 of
      // sum_c |w_c| max|x| (0.4%); 9 products in sequence (4 per layer, then
      // the head), with LayerNorm keeping each input at scale 1, add up to
      // 9 x 0.4% = 3.5% of the logit scale: we demand 5%. (A wrong block
      // order or scale gives errors of order 100%.)
      const double tol = format == QuantFormat::NF4 ? 1e-4 : 0.05;
      for (size_t v = 0; v < b.size(); ++v) CHECK(std::fabs(a[v] - b[v]) <= tol * scale);
      const int32_t next = (step * 7 + 3) % 20;
      a = quant.step(next);
      b = ref.step(next);
    }
  }
}

TEST_CASE("quantized decoder: KV cache and thread count change no bit") {
  const auto config = quant_config();
  const GPT model = test::random_model(config, 22);
  const auto sd = model.state_dict();
  const int before = num_threads();
  for (const QuantFormat format : kFormats) {
    INFO("format " << quant_format_info(format).name);
    const auto q = quantize_model(sd, format);
    std::vector<std::vector<float>> runs;
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      Decoder cached(config, sd, q), uncached(config, sd, q);
      cached.set_parallel_threshold(0);  // really use the threads on this small model
      uncached.set_parallel_threshold(0);
      std::vector<int32_t> ids = {1, 2, 3, 4, 5};
      auto l = cached.append(ids);
      std::vector<float> cached_logits(l.begin(), l.end());
      for (int step = 0; step < 20; ++step) {
        uncached.reset();
        const auto full = uncached.append(ids);  // the whole context, no reuse
        REQUIRE(std::vector<float>(full.begin(), full.end()) == cached_logits);
        const int32_t next = argmax(full);
        ids.push_back(next);
        l = cached.step(next);
        cached_logits.assign(l.begin(), l.end());
      }
      runs.push_back(cached_logits);
    }
    CHECK(runs[0] == runs[1]);
  }
  set_num_threads(before);
}

TEST_CASE("quantized decoder rejects a mis-shaped quantized matrix") {
  const auto config = quant_config();
  const GPT model = test::random_model(config, 23);
  const auto sd = model.state_dict();
  auto q = quantize_model(sd, QuantFormat::Q8_0);
  const auto& attn = q.at("h.0.attn.c_attn.weight");  // (3C, C)
  std::vector<float> w(static_cast<size_t>(attn.rows * attn.cols), 0.5f);
  q["h.0.attn.c_attn.weight"] = quantize_matrix(QuantFormat::Q8_0, w, attn.cols, attn.rows);
  CHECK_THROWS_WITH(Decoder(config, sd, q), Catch::Contains("h.0.attn.c_attn.weight"));
}
