// 10_quantization: from absmax on one row by hand to the library's formats on
// a trained model, with the loss and KL each format costs.
//
// What it teaches: quantization stores a weight as a small integer q and a
// shared scale s, w ~ s q. Absmax picks s = max|w| / qmax so the largest
// weight lands on the grid's edge; every other weight is rounded to the
// nearest step s, so the error per weight is at most s / 2. That is why one
// outlier hurts: it sets s for the whole row and every small weight falls
// into the few steps near zero. Blocks (one scale per 32 weights, ggml's
// q8_0 / q4_0) confine an outlier to its block. We measure that, then run the
// library's formats (tensor/quant_formats.h) on a trained model's weights:
// bits per weight, reconstruction error, and what the model loses: next-token
// loss and KL(fp32 || quantized) over held-out text (infer/compare.h, the
// library behind `cpurich compare`).
//
// Pipeline position: trained model -> [quantize] -> smaller model -> compare.
// Exercise: make the outlier of step 2 ten times larger; which block sizes
// still protect the ordinary weights?
// Run: build/release/lessons/10_quantization [--quick]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "infer/compare.h"
#include "infer/decoder.h"
#include "nn/evaluate.h"
#include "nn/quant_io.h"
#include "tensor/quant_formats.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"
#include "train/trainer.h"
#include "train/world.h"

using namespace cpurich;

namespace {

// Absmax round trip of x in blocks of `block` weights onto integers
// -qmax..qmax: per block s = max|x| / qmax, q = round(x / s), x' = s q.
std::vector<float> absmax_roundtrip(const std::vector<float>& x, size_t block, int qmax) {
  std::vector<float> y(x.size());
  for (size_t b = 0; b < x.size(); b += block) {
    const size_t e = std::min(x.size(), b + block);
    float amax = 0.0f;
    for (size_t i = b; i < e; ++i) amax = std::max(amax, std::abs(x[i]));
    const float s = amax / static_cast<float>(qmax);
    for (size_t i = b; i < e; ++i) y[i] = s == 0.0f ? 0.0f : s * std::round(x[i] / s);
  }
  return y;
}

// sqrt(mean (x - y)^2) over the indices where `skip` is false.
double rms_error(const std::vector<float>& x, const std::vector<float>& y,
                 const std::vector<bool>& skip = {}) {
  double s = 0.0;
  size_t n = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!skip.empty() && skip[i]) continue;
    s += (x[i] - y[i]) * (x[i] - y[i]);
    ++n;
  }
  return std::sqrt(s / static_cast<double>(n));
}

std::vector<float> normal_row(size_t n, double std, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(std * rng.normal());
  return x;
}

// The model with every matrix in `q` replaced by its dequantized values.
GPT dequantized_copy(const GPT& model, const std::map<std::string, QuantMatrix>& q) {
  std::map<std::string, Tensor> sd = model.state_dict();
  for (const auto& [name, m] : q) sd[name] = dequantize_to_state_tensor(name, m);
  GPT out(model.config(), 0);
  out.load_state_dict(sd);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  try {
    init_threads_from_env();
    bool ok = true;
    // 1. Absmax by hand on one row of 8 weights, to int8 (qmax 127).
    const std::vector<float> row = {0.12f, -0.40f, 0.05f, 0.33f, -0.08f, 0.27f, -0.19f, 0.01f};
    float amax = 0.0f;
    for (float v : row) amax = std::max(amax, std::abs(v));
    const float s = amax / 127.0f;
    std::printf("1. absmax int8 on one row: s = max|w| / 127 = %.4f / 127 = %.6f\n", amax, s);
    std::printf("   %-6s %9s %6s %9s %10s\n", "i", "w", "q", "s*q", "error");
    for (size_t i = 0; i < row.size(); ++i) {
      const float q = std::round(row[i] / s);
      std::printf("   %-6zu %9.5f %6.0f %9.5f %10.2e\n", i, row[i], q, s * q, row[i] - s * q);
    }
    std::printf("   every |error| <= s/2 = %.2e\n", s / 2);

    // 2. The outlier problem, at 4 bits (qmax 7): 256 weights ~ N(0, 0.02),
    //    one of them 1.0. Error on the 255 ordinary weights.
    std::vector<float> w = normal_row(256, 0.02, 7);
    w[100] = 1.0f;
    std::vector<bool> outlier(w.size(), false);
    outlier[100] = true;
    const std::vector<float> clean = [&] {
      std::vector<float> c = w;
      c[100] = 0.0f;
      return c;
    }();
    const double err_clean = rms_error(clean, absmax_roundtrip(clean, 256, 7), outlier);
    const double err_row = rms_error(w, absmax_roundtrip(w, 256, 7), outlier);
    const double err_b32 = rms_error(w, absmax_roundtrip(w, 32, 7), outlier);
    std::printf(
        "\n2. one outlier (1.0 among N(0, 0.02)), 4-bit absmax, rms error of the others:\n");
    std::printf("   no outlier, one scale per row   %.5f\n", err_clean);
    std::printf(
        "   outlier,    one scale per row   %.5f  (the step is 1/7: most weights round "
        "to 0)\n",
        err_row);
    std::printf("   outlier,    one scale per 32    %.5f  (only its own block suffers)\n", err_b32);
    ok &= err_b32 < err_row;

    // 3. Block size against error: 4096 weights ~ N(0, 0.02) with 1% outliers of 5x.
    std::vector<float> x = normal_row(4096, 0.02, 11);
    for (size_t i = 0; i < x.size(); i += 97) x[i] *= 5.0f;
    std::printf("\n3. block size vs 4-bit rms error (4096 weights, 1%% outliers):\n");
    std::printf("   %6s %10s %12s\n", "block", "rms error", "bits/weight");
    double prev = 1e30;
    bool falls = true;
    for (size_t block : {4096, 1024, 256, 64, 32, 16, 8}) {
      const double e = rms_error(x, absmax_roundtrip(x, block, 7));
      std::printf("   %6zu %10.6f %12.3f\n", block, e, 4.0 + 16.0 / static_cast<double>(block));
      falls &= e < prev;
      prev = e;
    }
    std::printf("   error falls as blocks shrink (an fp16 scale costs 16/block bits): %s\n",
                falls ? "yes" : "NO");
    ok &= falls;

    // 4. A trained model: 2 layers, 128 dims (64 in quick mode), on the world corpus.
    const world::World wd = world::generate_world(world::WorldOptions{.people = quick ? 60 : 200});
    auto tok = std::make_unique<CharTokenizer>(CharTokenizer::train(wd.corpus));
    const std::vector<int32_t> ids = tok->encode(wd.corpus);
    TrainConfig cfg;
    cfg.n_layer = 2;
    cfg.n_head = 4;
    cfg.n_embd = quick ? 64 : 128;
    cfg.block_size = 64;
    cfg.batch_size = 8;
    cfg.max_iters = quick ? 80 : 1000;
    cfg.warmup_iters = cfg.max_iters / 10;
    cfg.learning_rate = 3e-3;
    cfg.min_lr = 3e-4;
    cfg.eval_every = cfg.max_iters;
    Trainer t(cfg, std::move(tok), ids, fnv1a64(wd.corpus),
              TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
    while (!t.done()) t.step();
    GPT& model = t.model();
    // Held-out text: the last 10% of the corpus (the trainer's validation split).
    const size_t n_val = std::min<size_t>(ids.size() / 10, quick ? 4000 : 20000);
    const std::span<const int32_t> val(ids.data() + ids.size() - n_val, n_val);
    const double loss_fp32 = evaluate_ids(model, val, cfg.block_size).loss;
    std::printf("\n4. trained %lld parameters for %lld steps; held-out loss %.4f over %zu tokens\n",
                static_cast<long long>(model.num_parameters()),
                static_cast<long long>(cfg.max_iters), loss_fp32, n_val);

    // 5. The library's formats on every weight matrix (wte, wpe, 4 per layer).
    double w_norm2 = 0.0;
    int64_t n_weights = 0;
    const std::vector<WeightMatrix> mats = weight_matrices(model);
    for (const WeightMatrix& m : mats) {
      for (float v : m.w) w_norm2 += static_cast<double>(v) * v;
      n_weights += m.rows * m.cols;
    }
    Decoder reference(model);
    std::printf("   %-6s %6s %9s %10s %10s %8s %10s %8s\n", "format", "bits", "x fp32", "rel error",
                "loss", "dloss", "mean KL", "top-1");
    for (const QuantFormatInfo& f : quant_formats()) {
      const auto q = quantize_model(model, QuantizeOptions{.format = f.format});
      int64_t bytes = 0, qweights = 0;
      double err2 = 0.0;
      for (const WeightMatrix& m : mats) {
        const auto it = q.find(m.name);
        if (it == q.end()) continue;  // a matrix the format cannot block stays fp32
        bytes += static_cast<int64_t>(it->second.data.size());
        qweights += m.rows * m.cols;
        std::vector<float> back(m.w.size());
        dequantize_matrix(it->second, back);
        for (size_t i = 0; i < back.size(); ++i)
          err2 += (back[i] - m.w[i]) * static_cast<double>(back[i] - m.w[i]);
      }
      const double ratio = static_cast<double>(bytes) / (4.0 * static_cast<double>(qweights));
      GPT deq = dequantized_copy(model, q);
      const double loss = evaluate_ids(deq, val, cfg.block_size).loss;
      const double dloss = (loss - loss_fp32) / loss_fp32;
      Decoder variant(model, q);
      const KLStats kl = next_token_kl(reference, variant, val, cfg.block_size, quick ? 256 : 1024);
      std::printf("   %-6s %6.2f %9.3f %10.4f %10.4f %7.2f%% %10.5f %7.1f%%\n",
                  std::string(f.name).c_str(), 32.0 * ratio, ratio, std::sqrt(err2 / w_norm2), loss,
                  100.0 * dloss, kl.mean, 100.0 * kl.same_top1);
      if (qweights != n_weights)
        std::printf("   (%s left some matrices in fp32)\n", std::string(f.name).c_str());
      if (f.format == QuantFormat::Q8_0) {
        std::printf("   -> q8_0 costs %.3f%% of the loss (< 1%%): %s\n", 100.0 * dloss,
                    std::abs(dloss) < 0.01 ? "yes" : "NO");
        ok &= std::abs(dloss) < 0.01;
      }
      if (f.format == QuantFormat::Q4_0 || f.format == QuantFormat::Q4_1 ||
          f.format == QuantFormat::NF4) {
        std::printf("   -> %s is %.3f x fp32 bytes (<= 0.16): %s\n", std::string(f.name).c_str(),
                    ratio, ratio <= 0.16 ? "yes" : "NO");
        ok &= ratio <= 0.16;
      }
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "10_quantization: error: %s\n", e.what());
    return 1;
  }
}
