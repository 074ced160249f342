// bench/serve: `cpurich serve` under load: N concurrent loopback clients.
//
// What it measures: an in-process server (serve/server.h) on 127.0.0.1 with
// a random-weight model (`tiny`: 4 layers, 4 heads, 128 wide; `small`: 6, 6,
// 384; 512-token context, 65-symbol vocabulary) and K random LoRA adapters
// (rank 8 on c_attn, c_proj, c_fc). N client threads send streamed
// completions back to back for a fixed time, client i on adapter i % K (the
// base when K = 0), each a prompt of --prompt-tokens and --max-tokens new
// tokens (no stop string: every request generates all of them). Per request:
//   ttft  time from sending to the first streamed text
//   itl   time between successive streamed pieces (inter-token latency)
// and the aggregate decode rate: tokens sampled by the scheduler / seconds.
// Compare --clients 1 with --clients 8 for what batching buys, and --adapters
// 1 with 4 for what a mixed-adapter batch costs.
//
// Usage: serve [--config tiny|small] [--clients N] [--adapters K] [--seconds S]
//              [--max-batch B] [--max-tokens M] [--prompt-tokens P] [--threads T]
// Prints one JSON object: {"config","clients","adapters","tokens_per_s",
// "ttft_p50_ms","ttft_p99_ms","itl_p50_ms","itl_p99_ms", ...}.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "nn/gpt.h"
#include "nn/lora.h"
#include "serve/server.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"

using namespace cpurich;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The q-quantile of v (nearest rank), 0 if empty.
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

GPTConfig make_config(const std::string& name) {
  GPTConfig c;
  if (name == "tiny") {
    c.n_layer = 4, c.n_head = 4, c.n_embd = 128;
  } else if (name == "small") {
    c.n_layer = 6, c.n_head = 6, c.n_embd = 384;
  } else {
    throw std::invalid_argument("--config must be tiny or small");
  }
  c.n_positions = 512;
  c.vocab_size = 65;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/serve: concurrent loopback clients against an in-process cpurich server"};
  std::string config_name = "tiny";
  int clients = 8, adapters = 0, threads = 0;
  double seconds = 10.0;
  int64_t max_batch = 8, max_tokens = 64, prompt_tokens = 32;
  app.add_option("--config", config_name, "tiny or small (random weights)");
  app.add_option("--clients", clients, "Concurrent clients (default 8)");
  app.add_option("--adapters", adapters, "LoRA adapters, client i uses i % K (default 0: base)");
  app.add_option("--seconds", seconds, "How long the clients run (default 10)");
  app.add_option("--max-batch", max_batch, "Server's --max-batch (default 8)");
  app.add_option("--max-tokens", max_tokens, "New tokens per request (default 64)");
  app.add_option("--prompt-tokens", prompt_tokens, "Prompt length (default 32)");
  app.add_option("--threads", threads, "Compute threads (default: CPURICH_THREADS)");
  CLI11_PARSE(app, argc, argv);
  try {
    init_threads_from_env();
    if (threads > 0) set_num_threads(threads);
    const GPTConfig config = make_config(config_name);
    std::vector<char32_t> chars = {U'\n'};
    for (char32_t ch = 32; ch < 96; ++ch) chars.push_back(ch);  // 65 symbols
    const CharTokenizer tokenizer(chars);
    GPT model(config, 1);
    BatchDecoder decoder(model, {.max_slots = max_batch, .max_rows = max_batch + 32});
    std::vector<ServedModel> models = {{.name = config_name, .adapter = -1}};
    for (int k = 0; k < adapters; ++k) {
      add_lora(model, {.rank = 8, .alpha = 16, .seed = static_cast<uint64_t>(k + 1)});
      Rng rng(static_cast<uint64_t>(k + 100));
      for (const auto& [name, lin] : model.linear_modules())
        if (lin->lora)
          lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 0.02));
      models.push_back({.name = "adapter" + std::to_string(k),
                        .adapter = decoder.add_adapter(take_lora_weights(model))});
    }
    Scheduler scheduler(decoder, tokenizer, {.max_queue = clients, .prefill_chunk = 32});
    Server server(
        scheduler, tokenizer, models,
        {.port = 0, .limits = {.max_tokens = max_tokens}, .max_connections = clients + 4});
    const int port = server.bind();
    std::thread http([&] { server.run(); });

    std::string prompt;
    for (int64_t i = 0; i < prompt_tokens; ++i) prompt += static_cast<char>('A' + i % 26);
    std::mutex mutex;
    std::vector<double> ttft, itl;
    std::atomic<int64_t> requests{0}, failures{0};
    const int64_t tokens_before = scheduler.metrics().tokens_generated;
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::duration<double>(seconds);
    std::vector<std::thread> workers;
    for (int i = 0; i < clients; ++i) {
      workers.emplace_back([&, i] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(120, 0);
        const std::string name =
            adapters > 0 ? models[static_cast<size_t>(1 + i % adapters)].name : models[0].name;
        uint64_t seed = static_cast<uint64_t>(i) << 32;
        while (Clock::now() < deadline) {
          httplib::Request req;
          req.method = "POST";
          req.path = "/v1/completions";
          req.set_header("Content-Type", "application/json");
          req.body = json{{"model", name},  {"prompt", prompt}, {"max_tokens", max_tokens},
                          {"stream", true}, {"seed", seed++},   {"temperature", 1.0}}
                         .dump();
          std::vector<double> mine_itl;
          double first = -1.0;
          auto sent = Clock::now(), last = sent;
          req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
            if (std::string_view(data, n).find("\"text\":\"\"") != std::string_view::npos)
              return true;  // the closing chunk carries no text
            if (first < 0)
              first = ms_since(sent);
            else
              mine_itl.push_back(ms_since(last));
            last = Clock::now();
            return true;
          };
          const auto res = c.send(req);
          ++requests;
          if (!res || res->status != 200) {
            ++failures;
            continue;
          }
          std::lock_guard lock(mutex);
          if (first >= 0) ttft.push_back(first);
          itl.insert(itl.end(), mine_itl.begin(), mine_itl.end());
        }
      });
    }
    for (auto& w : workers) w.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t tokens = scheduler.metrics().tokens_generated - tokens_before;
    scheduler.drain(0);
    server.stop();
    http.join();
    const json out = {{"config", config_name},
                      {"clients", clients},
                      {"adapters", adapters},
                      {"tokens_per_s", static_cast<double>(tokens) / elapsed},
                      {"ttft_p50_ms", quantile(ttft, 0.5)},
                      {"ttft_p99_ms", quantile(ttft, 0.99)},
                      {"itl_p50_ms", quantile(itl, 0.5)},
                      {"itl_p99_ms", quantile(itl, 0.99)},
                      {"requests", requests.load()},
                      {"failures", failures.load()},
                      {"max_batch", max_batch},
                      {"threads", num_threads()},
                      {"seconds", elapsed}};
    std::printf("%s\n", out.dump().c_str());
    return failures.load() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve bench: %s\n", e.what());
    return 1;
  }
}
