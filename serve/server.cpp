// server.cpp: the routes (see server.h). Every handler validates first and
// answers an OpenAI-style JSON error; nothing thrown escapes to httplib.
#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <sstream>

namespace cpurich {

using nlohmann::json;

namespace {

// JSON text, with invalid UTF-8 replaced rather than thrown on.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How long an HTTP thread waits for a job's next text before it probes the
// connection with a write (so a vanished client is noticed while its request
// still waits in the queue).
constexpr int kProbeMs = 500;

// Connections the accept loop has not taken yet wait in the kernel's listen
// queue. httplib listens with a backlog of 5: a burst of clients overflows it,
// and Linux then drops connections or answers with SYN cookies that can fail
// later (a reset). SOMAXCONN lets the kernel hold a whole burst (it caps the
// value at net.core.somaxconn).
constexpr int kListenBacklog = SOMAXCONN;

}  // namespace

struct Server::Impl {
  Scheduler& scheduler;
  const Tokenizer& tokenizer;
  std::vector<ServedModel> models;
  ServerOptions options;
  httplib::Server http;
  std::atomic<int64_t> next_id{1};
  std::mutex status_mutex;
  std::map<int, int64_t> responses;         // HTTP status -> count, for /metrics
  socket_t listen_socket = INVALID_SOCKET;  // the last socket httplib set up

  Impl(Scheduler& s, const Tokenizer& t, std::vector<ServedModel> m, const ServerOptions& o)
      : scheduler(s), tokenizer(t), models(std::move(m)), options(o) {}

  void count(int status) {
    std::lock_guard lock(status_mutex);
    ++responses[status];
  }

  void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(dump(error_json(e)), "application/json");
  }

  const ServedModel& find_model(const std::string& name) const {
    if (name.empty()) return models.front();
    for (const ServedModel& m : models)
      if (m.name == name) return m;
    throw ApiError(404, "invalid_request_error", "The model '" + name + "' does not exist",
                   "model_not_found", "model");
  }

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, bool chat);
  std::string metrics_text();
};

// A finished job's response body (non-streamed).
static json completion_body(const Job& job, const CompletionRequest& r, const std::string& id,
                            int64_t created, const std::string& model) {
  json choice = {{"index", 0}, {"finish_reason", job.finish_reason}, {"logprobs", nullptr}};
  if (r.chat)
    choice["message"] = {{"role", "assistant"}, {"content", job.text}};
  else
    choice["text"] = job.text;
  return {{"id", id},
          {"object", r.chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})},
          {"usage",
           {{"prompt_tokens", job.prompt_tokens},
            {"completion_tokens", job.completion_tokens},
            {"total_tokens", job.prompt_tokens + job.completion_tokens}}}};
}

// One server-sent event of a stream: a piece of text, or (finish non-empty)
// the last chunk carrying the finish reason.
static std::string sse_chunk(const CompletionRequest& r, const std::string& id, int64_t created,
                             const std::string& model, const std::string& text,
                             const std::string& finish, bool first) {
  json choice = {{"index", 0}, {"logprobs", nullptr}};
  choice["finish_reason"] = finish.empty() ? json(nullptr) : json(finish);
  if (r.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (finish.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  const json j = {{"id", id},
                  {"object", r.chat ? "chat.completion.chunk" : "text_completion"},
                  {"created", created},
                  {"model", model},
                  {"choices", json::array({choice})}};
  return "data: " + dump(j) + "\n\n";
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  CompletionRequest r;
  std::shared_ptr<Job> job;
  std::string model_name;
  try {
    r = parse_completion_request(parse_request_body(req.body), chat, options.limits);
    const ServedModel& model = find_model(r.model);
    model_name = model.name;
    JobSpec spec{.adapter = model.adapter, .options = r.options};
    try {
      spec.prompt = tokenizer.encode(r.prompt);
      job = scheduler.submit(std::move(spec));
    } catch (const std::invalid_argument& e) {
      throw bad_field(chat ? "messages" : "prompt", e.what());
    }
  } catch (const ApiError& e) {
    count(e.status);
    return send_error(res, e);
  } catch (const QueueFull& e) {
    count(429);
    return send_error(res, ApiError(429, "rate_limit_error", e.what(), "queue_full"));
  } catch (const ShuttingDown& e) {
    count(503);
    return send_error(res, ApiError(503, "server_error", e.what(), "shutting_down"));
  }
  count(200);
  const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
  const int64_t created = unix_seconds();
  // The job lives as long as the response: if the connection ends early,
  // the releaser cancels it and the scheduler frees its slot.
  const auto release = [job](bool success) {
    if (!success) job->cancel();
  };
  if (r.stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, r, id, created, model_name](size_t, httplib::DataSink& sink) {
          bool first = true, done = false;
          std::string text;
          while (!done) {
            const bool news = job->wait(text, done, kProbeMs);
            // A failed write means the client has gone: cancel, abort.
            const std::string out =
                !text.empty() ? sse_chunk(r, id, created, model_name, text, "", first)
                : news        ? std::string()
                              : std::string(": waiting\n\n");  // an SSE comment: a probe
            if (!text.empty()) first = false;
            if (!out.empty() && !sink.write(out.data(), out.size())) {
              job->cancel();
              return false;
            }
          }
          const std::string end =
              (first && r.chat ? sse_chunk(r, id, created, model_name, "", "", true) : "") +
              sse_chunk(r, id, created, model_name, "", job->finish_reason, false) +
              "data: [DONE]\n\n";
          if (!sink.write(end.data(), end.size())) return false;
          sink.done();
          return true;
        },
        release);
  } else {
    // Chunked too, so that a client that disconnects while waiting is seen
    // (the probe writes a space: JSON allows whitespace before the value).
    res.set_chunked_content_provider(
        "application/json",
        [job, r, id, created, model_name](size_t, httplib::DataSink& sink) {
          bool done = false;
          std::string text;
          while (!done) {
            if (!job->wait(text, done, kProbeMs) && !sink.write(" ", 1)) {
              job->cancel();
              return false;
            }
          }
          const std::string out = dump(completion_body(*job, r, id, created, model_name));
          if (!sink.write(out.data(), out.size())) return false;
          sink.done();
          return true;
        },
        release);
  }
}

std::string Server::Impl::metrics_text() {
  const SchedulerMetrics m = scheduler.metrics();
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  o << "# HELP cpurich_http_responses_total Completion requests answered, by HTTP status.\n"
       "# TYPE cpurich_http_responses_total counter\n";
  {
    std::lock_guard lock(status_mutex);
    for (const auto& [status, n] : responses)
      o << "cpurich_http_responses_total{status=\"" << status << "\"} " << n << '\n';
  }
  metric("cpurich_requests_finished_total", "counter", "Generations that ran to their end.",
         m.requests_finished);
  metric("cpurich_requests_cancelled_total", "counter",
         "Generations cancelled (client gone or shutdown).", m.requests_cancelled);
  metric("cpurich_tokens_generated_total", "counter", "Tokens sampled.", m.tokens_generated);
  metric("cpurich_prompt_tokens_total", "counter", "Prompt tokens prefilled.", m.prompt_tokens);
  metric("cpurich_queue_length", "gauge", "Requests waiting for a slot.", m.queue_length);
  metric("cpurich_active_sequences", "gauge", "Sequences in the running batch.", m.active);
  metric("cpurich_batch_rows", "gauge", "Rows (tokens) in the last batched forward.",
         m.last_batch_rows);
  metric("cpurich_steps_total", "counter", "Batched forwards run.", m.steps);
  o << "# HELP cpurich_time_to_first_token_seconds From request to first sampled token.\n"
       "# TYPE cpurich_time_to_first_token_seconds summary\n"
    << "cpurich_time_to_first_token_seconds_sum " << m.ttft_seconds_sum << '\n'
    << "cpurich_time_to_first_token_seconds_count " << m.ttft_count << '\n';
  return o.str();
}

void Server::Impl::routes() {
  http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  // httplib calls this on each socket it tries to bind, before bind(); the
  // last one is the listening socket (see Server::bind).
  http.set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket = sock;
  });
  const int threads = options.max_connections;
  // httplib owns and deletes the queue it gets from this factory.
  http.new_task_queue = [threads] {
    return std::make_unique<httplib::ThreadPool>(threads).release();
  };
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (options.api_key.empty() || req.path == "/")
      return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + options.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    count(401);
    send_error(
        res, ApiError(401, "invalid_request_error",
                      "Incorrect API key provided (Authorization: Bearer KEY)", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own errors (unknown route 404, body too large 413, ...) get an
  // OpenAI-style body too; responses that already have one keep it.
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string msg = res.status == 404   ? "no such route"
                            : res.status == 413 ? "the request body is too large"
                                                : "request failed";
    send_error(res, ApiError(res.status, "invalid_request_error", msg));
  });
  http.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string msg = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          msg = e.what();
        } catch (...) {
        }
        count(500);
        send_error(res, ApiError(500, "server_error", msg));
      });
  http.Post("/v1/completions",
            [this](const httplib::Request& q, httplib::Response& s) { completion(q, s, false); });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& q, httplib::Response& s) { completion(q, s, true); });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const ServedModel& m : models)
      data.push_back(
          {{"id", m.name}, {"object", "model"}, {"created", 0}, {"owned_by", "cpurich"}});
    res.set_content(dump({{"object", "list"}, {"data", data}}), "application/json");
  });
  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), "text/plain; version=0.0.4");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kIndexHtml, "text/html; charset=utf-8");
  });
}

Server::Server(Scheduler& scheduler, const Tokenizer& tokenizer, std::vector<ServedModel> models,
               const ServerOptions& options)
    : impl_(std::make_unique<Impl>(scheduler, tokenizer, std::move(models), options)) {
  if (impl_->models.empty()) throw std::invalid_argument("server: no model to serve");
  impl_->routes();
}

Server::~Server() {
  stop();
}

int Server::bind() {
  const ServerOptions& o = impl_->options;
  if (o.port == 0) {
    port_ = impl_->http.bind_to_any_port(o.host);
    if (port_ < 0) port_ = 0;
  } else if (impl_->http.bind_to_port(o.host, o.port)) {
    port_ = o.port;
  }
  if (port_ <= 0)
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port));
  // listen() again on a listening socket only sets its backlog (Linux).
  if (impl_->listen_socket == INVALID_SOCKET || ::listen(impl_->listen_socket, kListenBacklog) != 0)
    throw std::runtime_error("cannot set the listen backlog on " + o.host + ":" +
                             std::to_string(port_));
  return port_;
}

void Server::run() {
  impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->http.stop();
}

}  // namespace cpurich
