// cmd_serve.cpp: `cpurich serve`: an OpenAI-compatible HTTP server over one
// base model and any number of LoRA adapters, batched together
// (serve/scheduler.h, serve/server.h). SIGTERM or SIGINT: stop accepting,
// let running requests finish for --grace-seconds, cancel the rest, exit 0.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "nn/gpt.h"
#include "nn/lora_io.h"
#include "nn/memory_estimate.h"
#include "serve/server.h"

namespace cpurich::cli {

namespace {

// SIGTERM / SIGINT may land on any thread (the compute pool's included), and a
// handler may only do async-signal-safe things: it writes one byte to a pipe,
// and a waiting thread does the shutdown. A handler can only reach a global.
int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const char c = 1;
  [[maybe_unused]] const auto n = write(g_signal_pipe[1], &c, 1);
}

struct ServeFlags {
  std::string model;
  std::vector<std::string> adapters;  // NAME=DIR or DIR
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t max_batch = 8;
  int64_t max_tokens = 256;
  int64_t max_queue = 64;
  int64_t prefill_chunk = 32;
  int64_t max_body_bytes = 1 << 20;
  int max_connections = 64;
  double grace_seconds = 10.0;
  std::string api_key;
  int threads = 0;
};

std::string dir_name(const std::string& dir) {
  return std::filesystem::path(dir).lexically_normal().filename().string();
}

void run_serve(const ServeFlags& f) {
  apply_threads(f.threads);
  if (f.max_batch < 1 || f.max_tokens < 1 || f.prefill_chunk < 1 || f.max_queue < 0)
    throw std::invalid_argument(
        "--max-batch, --max-tokens and --prefill-chunk must be >= 1, --max-queue >= 0");
  if (!std::filesystem::is_directory(f.model))
    throw std::runtime_error("model directory '" + f.model + "' does not exist");
  if (const auto c = peek_model_config(f.model))  // weights + a KV cache per slot must fit
    check_fits_in_memory(inference_memory(*c, f.max_batch, c->n_positions), "serving " + f.model);
  const auto tokenizer = load_tokenizer_from_dir(f.model);
  GPT model = load_model(f.model);
  auto decoder = std::make_unique<BatchDecoder>(
      model,
      BatchDecoderOptions{.max_slots = f.max_batch, .max_rows = f.max_batch + f.prefill_chunk});
  if (tokenizer->vocab_size() > decoder->config().vocab_size)
    throw std::invalid_argument("the tokenizer has more ids than the model's vocabulary");
  std::vector<ServedModel> models = {{.name = dir_name(f.model), .adapter = -1}};
  for (const std::string& a : f.adapters) {
    const auto eq = a.find('=');
    const std::string name = eq == std::string::npos ? dir_name(a) : a.substr(0, eq);
    const std::string dir = eq == std::string::npos ? a : a.substr(eq + 1);
    for (const ServedModel& m : models)
      if (m.name == name) throw std::invalid_argument("two models are named '" + name + "'");
    load_lora_adapter(model, dir);
    models.push_back({.name = name, .adapter = decoder->add_adapter(take_lora_weights(model))});
  }
  Scheduler scheduler(*decoder, *tokenizer,
                      {.max_queue = f.max_queue, .prefill_chunk = f.prefill_chunk});
  Server server(scheduler, *tokenizer, models,
                {.host = f.host,
                 .port = f.port,
                 .api_key = f.api_key,
                 .max_body_bytes = f.max_body_bytes,
                 .limits = {.max_tokens = f.max_tokens},
                 .max_connections = f.max_connections});
  const int port = server.bind();
  std::fprintf(stderr, "cpurich serve: %zu model(s) on http://%s:%d/ (max batch %lld)\n",
               models.size(), f.host.c_str(), port, static_cast<long long>(f.max_batch));
  for (const ServedModel& m : models) std::fprintf(stderr, "  model \"%s\"\n", m.name.c_str());
  std::fflush(stderr);
  const auto grace_ms = static_cast<int>(f.grace_seconds * 1000);
  if (pipe(g_signal_pipe) != 0) throw std::runtime_error("cannot create the signal pipe");
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::thread waiter([&] {
    char c = 0;
    while (read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    scheduler.drain(grace_ms);  // new requests now get 503; running ones end
    server.stop();
  });
  try {
    server.run();
  } catch (...) {
    // e.g. no thread for the connection pool: end the waiter first, since
    // destroying a thread that was never joined calls std::terminate (SIGABRT).
    on_stop_signal(0);
    waiter.join();
    throw;
  }
  on_stop_signal(0);  // wakes the waiter if run() ended on its own
  waiter.join();
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  std::fprintf(stderr, "cpurich serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Serve a model and its LoRA adapters over an OpenAI-compatible HTTP API\n"
      "(/v1/completions, /v1/chat/completions, /v1/models, /health, /metrics, a chat page at /),\n"
      "batching all requests, whatever their adapter, into one forward per token.");
  sub->add_option("--model", f->model, "Base model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--adapter", f->adapters,
                  "LoRA adapter NAME=DIR (repeatable); clients select it with \"model\": NAME")
      ->check(adapter_dir());
  sub->add_option("--host", f->host, "Address to listen on (default 127.0.0.1: this machine only)");
  sub->add_option("--port", f->port, "TCP port (default 8080; 0 = any free port)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--max-batch", f->max_batch, "Sequences decoded together (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--max-tokens", f->max_tokens, "Cap on max_tokens per request (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--max-queue", f->max_queue,
                  "Requests waiting beyond the batch before 429 (default 64)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("--prefill-chunk", f->prefill_chunk,
                  "Prompt tokens one sequence prefills per step (default 32)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--max-body-bytes", f->max_body_bytes, "Largest request body (default 1 MiB)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  sub->add_option("--max-connections", f->max_connections,
                  "HTTP worker threads = concurrent connections (default 64)")
      ->check(CLI::Range(1, 4096));
  sub->add_option("--grace-seconds", f->grace_seconds,
                  "On SIGTERM, time given to running requests (default 10)")
      ->check(CLI::Range(0.0, 86400.0));
  sub->add_option("--api-key", f->api_key,
                  "Require \"Authorization: Bearer KEY\" on every API route");
  add_threads_option(*sub, f->threads);
  sub->callback([f] { run_serve(*f); });
}

}  // namespace cpurich::cli
