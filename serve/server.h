// server.h: `cpurich serve`'s HTTP side: OpenAI-compatible routes over a
// Scheduler, on cpp-httplib.
//
// What it teaches: the HTTP threads never touch the model. Each request is
// checked (API key, body size, JSON, fields, model name), its prompt is
// tokenized, and it is handed to the scheduler as a Job; the HTTP thread then
// only waits for the job's text and writes it out, as one JSON response or as
// server-sent events ("data: {...}\n\n" per piece, then "data: [DONE]"),
// which is how OpenAI streams. A write that fails means the client has gone:
// the job is cancelled and its KV cache slot freed at the next step.
//
// Routes: POST /v1/completions, POST /v1/chat/completions, GET /v1/models,
// GET /health, GET /metrics (Prometheus text), GET / (the chat page).
//
// Pipeline position: client -> [HTTP server] -> scheduler -> batched decoder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "serve/openai.h"
#include "serve/scheduler.h"

namespace cpurich {

/// A name clients use in "model" and the adapter it selects (-1 = base).
struct ServedModel {
  std::string name;
  int32_t adapter = -1;
};

/// Network and limits of a Server.
struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  ///< 0 = any free port (see Server::port)
  /// "" = none; else "Authorization: Bearer KEY" on every route but / (the
  /// page holds no data; it asks for the key and sends it).
  std::string api_key;
  int64_t max_body_bytes = 1 << 20;
  RequestLimits limits;
  int max_connections = 64;  ///< HTTP worker threads (a streaming client holds one)
};

class Server {
 public:
  /// models[0] is the base (used when a request names no model).
  Server(Scheduler& scheduler, const Tokenizer& tokenizer, std::vector<ServedModel> models,
         const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the socket; throws std::runtime_error if it cannot. Returns the port.
  int bind();
  /// Serves until stop() (blocks the calling thread).
  void run();
  /// Makes run() return (safe from any thread).
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

/// The chat page served at / (serve/web/index.html, embedded at build time).
extern const char* const kIndexHtml;

}  // namespace cpurich
