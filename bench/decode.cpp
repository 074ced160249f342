// bench/decode: prefill and decode speed at batch 1, with and without the KV cache.
//
// What it measures: for `tiny` (4 layers, 4 heads, 128 wide) and `small` (6, 6,
// 384), both with a 512-token context and a 65-symbol vocabulary and random
// weights, a 64-token prompt is prefilled and 256 tokens are decoded greedily
//   cache=true   Decoder::step per token (the KV cache)
//   cache=false  the whole context recomputed for every new token
// on 1 and 2 threads. It also measures this machine's memory bandwidth (a
// parallel sum over a 256 MB array) and reports how many bytes of weights per
// second cached decoding streams: a decode step reads every weight once, so
// for a model bigger than the caches that ratio is the speed limit.
//
// Usage: decode [--json] [--quick] [--config tiny|small] [--threads N] [--cached-only]
//   --quick        64 new tokens, uncached only for tiny
//   --config       only this model          --threads  only this thread count
//   --cached-only  skip the (slow) full-recomputation runs

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "infer/decoder.h"
#include "infer/sampling.h"
#include "nn/gpt.h"
#include "tensor/parallel.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

GPTConfig make_config(int64_t layers, int64_t heads, int64_t width) {
  GPTConfig c;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_embd = width;
  c.n_positions = 512;
  c.vocab_size = 65;
  return c;
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
  std::string only_config;
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
    else if (std::strcmp(argv[i], "--threads") == 0 && has_value && std::atoi(argv[i + 1]) > 0)
      thread_counts = {std::atoi(argv[++i])};
    else {
      std::fprintf(stderr,
                   "usage: decode [--json] [--quick] [--config tiny|small] [--threads N] "
                   "[--cached-only]\n");
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 1;
    }
  }
  if (!only_config.empty() && only_config != "tiny" && only_config != "small") {
    std::fprintf(stderr, "decode: error: unknown config '%s' (tiny or small)\n",
                 only_config.c_str());
    return 1;
  }
  const int64_t new_tokens = quick ? 64 : 256;
  const double bw = memory_bandwidth_gb_s();
  if (!json)
    std::printf("memory bandwidth (parallel read, %d threads): %.1f GB/s\n\n", parallel_width(),
                bw);
  const std::pair<const char*, GPTConfig> configs[] = {{"tiny", make_config(4, 4, 128)},
                                                       {"small", make_config(6, 6, 384)}};
  for (const auto& [name, config] : configs) {
    if (!only_config.empty() && only_config != name) continue;
    Decoder d(GPT(config, 1));
    const double wbytes = static_cast<double>(d.weight_bytes_per_token());
    double cached_1 = 0, uncached_1 = 0;
    for (const int threads : thread_counts) {
      set_num_threads(threads);
      for (const bool cache : {true, false}) {
        if (!cache && (cached_only || (quick && std::string(name) != "tiny"))) continue;
        const Timing t = run_case(d, cache, new_tokens, cache ? 3 : 1);
        const double weight_gb_s = cache ? wbytes * t.decode_tok_s / 1e9 : 0.0;
        if (threads == 1) (cache ? cached_1 : uncached_1) = t.decode_tok_s;
        if (json) {
          nlohmann::json j = {{"config", name},
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
          std::printf("%-5s cache=%-5s threads=%d  prefill %9.0f tok/s  decode %9.1f tok/s", name,
                      cache ? "true" : "false", threads, t.prefill_tok_s, t.decode_tok_s);
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
