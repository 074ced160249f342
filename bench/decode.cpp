// bench/decode: prefill and decode speed at batch 1, with and without the KV cache.
//
// What it measures: for `tiny` (4 layers, 4 heads, 128 wide) and `small` (6, 6,
// 384), both with a 512-token context and a 65-symbol vocabulary, and `gpt2`
// (GPT-2 124M's shape: 12, 12, 768, 1024 positions, 50257 tokens; only with
// --config gpt2), all with random weights, a 64-token prompt is prefilled and
// 256 tokens are decoded greedily
//   cache=true   Decoder::step per token (the KV cache)
//   cache=false  the whole context recomputed for every new token
// on 1 and 2 threads. It also measures this machine's memory bandwidth (a
// parallel sum over a 256 MB array) and reports how many bytes of weights per
// second cached decoding streams: a decode step reads every weight once, so
// for a model bigger than the caches that ratio is the speed limit.
//
// With --format other than f32, every Linear weight and the tied wte are
// quantized here (quantize_matrix) and the decoder computes from the packed
// blocks (tensor/quant_matvec.h); the JSON gains "format" and "bits_per_weight".
//
// Usage: decode [--json] [--quick] [--config tiny|small|gpt2] [--threads N] [--cached-only]
//               [--format f32|int8|q8_0|q4_0|q4_1|nf4]
//   --quick        64 new tokens, uncached only for tiny
//   --config       only this model          --threads  only this thread count
//   --cached-only  skip the (slow) full-recomputation runs (always for gpt2)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "infer/decoder.h"
#include "infer/sampling.h"
#include "nn/gpt.h"
#include "tensor/parallel.h"
#include "tensor/quant_formats.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

GPTConfig make_config(int64_t layers, int64_t heads, int64_t width, int64_t positions = 512,
                      int64_t vocab = 65) {
  GPTConfig c;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_embd = width;
  c.n_positions = positions;
  c.vocab_size = vocab;
  return c;
}

// The model's Linear weights, as (out, in), and wte quantized to `format`.
std::map<std::string, QuantMatrix> quantize_model(const std::map<std::string, Tensor>& sd,
                                                  QuantFormat format) {
  std::map<std::string, QuantMatrix> q;
  for (const auto& [name, t] : sd) {
    const bool linear =
        t.shape().size() == 2 && name.find(".weight") != std::string::npos &&
        (name.find("attn.c_") != std::string::npos || name.find("mlp.c_") != std::string::npos);
    if (!linear && name != "wte.weight") continue;
    const Tensor w = linear ? t.transpose(0, 1).contiguous() : t.contiguous();
    const auto v = w.span_f32();
    q.emplace(name, quantize_matrix(format, {v.begin(), v.end()}, w.shape()[0], w.shape()[1]));
  }
  return q;
}

// Bits per weight over the quantized matrices (32 when there are none).
double bits_per_weight(const std::map<std::string, QuantMatrix>& q) {
  double bytes = 0.0, weights = 0.0;
  for (const auto& [name, m] : q) {
    bytes += static_cast<double>(m.data.size());
    weights += static_cast<double>(m.rows * m.cols);
  }
  return weights > 0.0 ? 8.0 * bytes / weights : 32.0;
}

// GB/s of a parallel read of 256 MB (best of 5): each thread sums its own
// contiguous chunk, the way a decode step streams its share of the weights.
double memory_bandwidth_gb_s() {
  std::vector<float> a(size_t{64} << 20, 1.0f);
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = Clock::now();
    // One partial sum per 1 MiB block (a fixed split), added in order after.
    constexpr int64_t kBlock = int64_t{1} << 18;
    const int64_t blocks = static_cast<int64_t>(a.size()) / kBlock;
    std::vector<float> partial(static_cast<size_t>(blocks), 0.0f);
    parallel_for(0, blocks, [&](int64_t b) {
      float total = 0.0f;
      for (int64_t i = b * kBlock; i < (b + 1) * kBlock; i += 16) {
        float s = 0.0f;
        for (int j = 0; j < 16; ++j) s += a[static_cast<size_t>(i + j)];
        total += s;
      }
      partial[static_cast<size_t>(b)] = total;
    });
    float total = 0.0f;
    for (const float p : partial) total += p;
    sink = total;
    best = std::max(best, static_cast<double>(a.size() * sizeof(float)) / since(t0) / 1e9);
  }
  (void)sink;
  return best;
}

struct Timing {
  double prefill_tok_s = 0.0, decode_tok_s = 0.0;
};

Timing run_case(Decoder& d, bool cache, int64_t new_tokens, int repeats) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 64; ++i) ids.push_back((i * 37 + 11) % 65);
  Timing best;
  for (int rep = 0; rep < repeats; ++rep) {
    std::vector<int32_t> ctx = ids;
    auto t0 = Clock::now();
    d.reset();
    auto logits = d.append(ctx);
    best.prefill_tok_s = std::max(best.prefill_tok_s, 64.0 / since(t0));
    t0 = Clock::now();
    for (int64_t i = 0; i < new_tokens; ++i) {
      const int32_t next = argmax(logits);
      ctx.push_back(next);
      if (cache) {
        logits = d.step(next);
      } else {
        d.reset();
        logits = d.append(ctx);
      }
    }
    best.decode_tok_s = std::max(best.decode_tok_s, static_cast<double>(new_tokens) / since(t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false, quick = false, cached_only = false;
  std::string only_config, format_name = "f32";
  std::vector<int> thread_counts = {1, 2};
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--json") == 0)
      json = true;
    else if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else if (std::strcmp(argv[i], "--cached-only") == 0)
      cached_only = true;
    else if (std::strcmp(argv[i], "--config") == 0 && has_value)
      only_config = argv[++i];
    else if (std::strcmp(argv[i], "--format") == 0 && has_value)
      format_name = argv[++i];
    else if (std::strcmp(argv[i], "--threads") == 0 && has_value && std::atoi(argv[i + 1]) > 0)
      thread_counts = {std::atoi(argv[++i])};
    else {
      std::fprintf(stderr,
                   "usage: decode [--json] [--quick] [--config tiny|small|gpt2] [--threads N] "
                   "[--cached-only] [--format f32|int8|q8_0|q4_0|q4_1|nf4]\n");
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 1;
    }
  }
  if (!only_config.empty() && only_config != "tiny" && only_config != "small" &&
      only_config != "gpt2") {
    std::fprintf(stderr, "decode: error: unknown config '%s' (tiny, small or gpt2)\n",
                 only_config.c_str());
    return 1;
  }
  const bool quantize = format_name != "f32";
  QuantFormat format = QuantFormat::Q8_0;
  if (quantize) {
    try {
      format = parse_quant_format(format_name);
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "decode: error: %s (or f32)\n", e.what());
      return 1;
    }
  }
  const int64_t new_tokens = quick ? 64 : 256;
  const double bw = memory_bandwidth_gb_s();
  if (!json)
    std::printf("memory bandwidth (parallel read, %d threads): %.1f GB/s\n\n", parallel_width(),
                bw);
  const std::pair<const char*, GPTConfig> configs[] = {
      {"tiny", make_config(4, 4, 128)},
      {"small", make_config(6, 6, 384)},
      {"gpt2", make_config(12, 12, 768, 1024, 50257)}};
  for (const auto& [name, config] : configs) {
    const bool gpt2 = std::string(name) == "gpt2";
    if (only_config.empty() ? gpt2 : only_config != name) continue;  // gpt2 only on request
    std::map<std::string, QuantMatrix> quantized;
    std::map<std::string, Tensor> sd;
    {
      const GPT model(config, 1);
      sd = model.state_dict();
      if (quantize) quantized = quantize_model(sd, format);
    }
    for (const auto& [qname, m] : quantized) sd.erase(qname);  // the decoder needs only the blocks
    Decoder d(config, sd, quantized);
    sd.clear();
    const double bpw = bits_per_weight(quantized);
    const double wbytes = static_cast<double>(d.weight_bytes_per_token());
    double cached_1 = 0, uncached_1 = 0;
    for (const int threads : thread_counts) {
      set_num_threads(threads);
      for (const bool cache : {true, false}) {
        if (!cache && (cached_only || gpt2 || (quick && std::string(name) != "tiny"))) continue;
        const Timing t = run_case(d, cache, new_tokens, cache ? 3 : 1);
        const double weight_gb_s = cache ? wbytes * t.decode_tok_s / 1e9 : 0.0;
        if (threads == 1) (cache ? cached_1 : uncached_1) = t.decode_tok_s;
        if (json) {
          nlohmann::json j = {{"config", name},
                              {"format", format_name},
                              {"bits_per_weight", bpw},
                              {"cache", cache},
                              {"threads", threads},
                              {"prefill_tok_s", t.prefill_tok_s},
                              {"decode_tok_s", t.decode_tok_s},
                              {"new_tokens", new_tokens},
                              {"weight_mb", wbytes / 1e6},
                              {"memory_bandwidth_gb_s", bw}};
          if (cache) j["weight_gb_s"] = weight_gb_s;
          std::printf("%s\n", j.dump().c_str());
        } else {
          std::printf("%-5s %-4s cache=%-5s threads=%d  prefill %9.0f tok/s  decode %9.1f tok/s",
                      name, format_name.c_str(), cache ? "true" : "false", threads, t.prefill_tok_s,
                      t.decode_tok_s);
          if (cache)
            std::printf("  weights %.1f MB/token -> %.1f GB/s (%.0f%% of memory bandwidth)",
                        wbytes / 1e6, weight_gb_s, 100.0 * weight_gb_s / bw);
          std::printf("\n");
        }
      }
    }
    if (!json && uncached_1 > 0)
      std::printf("%-5s KV cache speedup at 1 thread, %lld new tokens: %.1fx\n\n", name,
                  static_cast<long long>(new_tokens), cached_1 / uncached_1);
  }
  return 0;
}
