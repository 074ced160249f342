// The HTTP server against a real socket on a loopback port: every route,
// streamed and non-streamed completions equal generate() (what `cpurich
// sample` runs) for the same seed, concurrent requests on mixed adapters each
// equal their solo run, malformed requests get OpenAI-style errors, the API
// key is enforced, and a client that disconnects mid-stream cancels its
// sequence and frees its slot.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "infer/decoder.h"
#include "nn/lora.h"
#include "serve/server.h"
#include "tests/infer/test_util.h"
#include "tests/serve/headless_chromium.h"

using namespace cpurich;
using nlohmann::json;

namespace {

const std::string kAlphabet = "\n #:.?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// The alphabet tokenizer, optionally slowed down per decoded token so that a
// generation lasts long enough for a client to leave in the middle of it.
class SlowTokenizer : public test::AlphabetTokenizer {
 public:
  explicit SlowTokenizer(int delay_ms = 0) : delay_ms_(delay_ms) {}
  std::string decode(std::span<const int32_t> ids) const override {
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    return AlphabetTokenizer::decode(ids);
  }
  int delay_ms_;
};

GPTConfig config() {
  return test::small_config(128, static_cast<int64_t>(kAlphabet.size()));
}

// A base model with a LoRA adapter attached (random B, so it matters).
GPT adapted(uint64_t lora_seed) {
  GPT m = test::random_model(config(), 31);
  add_lora(m, {.rank = 2, .alpha = 4, .seed = lora_seed});
  Rng rng(lora_seed + 9);
  for (const auto& [name, lin] : m.linear_modules())
    if (lin->lora) lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 0.3));
  return m;
}

// A server on 127.0.0.1:<free port> serving "base" and adapter "alice".
struct TestServer {
  explicit TestServer(const ServerOptions& o = {}, int decode_delay_ms = 0, int64_t max_slots = 4,
                      int64_t max_queue = 16)
      : tokenizer(decode_delay_ms),
        base(test::random_model(config(), 31)),
        decoder(base, {.max_slots = max_slots, .max_rows = max_slots + 8}) {
    GPT a = adapted(5);
    const int32_t alice = decoder.add_adapter(take_lora_weights(a));
    scheduler = std::make_unique<Scheduler>(
        decoder, tokenizer, SchedulerOptions{.max_queue = max_queue, .prefill_chunk = 8});
    ServerOptions opts = o;
    opts.port = 0;
    server = std::make_unique<Server>(
        *scheduler, tokenizer, std::vector<ServedModel>{{"base", -1}, {"alice", alice}}, opts);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
  }
  ~TestServer() {
    scheduler->drain(0);
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }
  SlowTokenizer tokenizer;
  GPT base;
  BatchDecoder decoder;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<Server> server;
  int port = 0;
  std::thread thread;
};

// What `cpurich sample` prints for the same request: generate() on a solo
// Decoder (the adapter merged, as the CLI's --adapter does).
std::string reference_text(const std::string& prompt, const json& req, bool with_adapter,
                           bool chat = false) {
  GPT m = with_adapter ? adapted(5) : test::random_model(config(), 31);
  if (with_adapter) merge_lora(m);
  Decoder d(m);
  test::AlphabetTokenizer tok;
  GenerateOptions o;
  o.sampler = {.temperature = req.value("temperature", 1.0),
               .top_k = req.value("top_k", int64_t{-1}),
               .seed = req.value("seed", uint64_t{0})};
  o.max_new_tokens = req.value("max_tokens", int64_t{16});
  if (req.contains("stop")) o.stop = {req["stop"].get<std::string>()};
  if (chat) o.stop.insert(o.stop.end(), {"### Human:", "\n"});
  return generate(d, tok, tok.encode(prompt), o).text;
}

// The text of an SSE stream: "data: {json}" events until "data: [DONE]".
std::string sse_text(const std::string& body, bool chat, std::string* finish = nullptr) {
  std::string text;
  bool done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    REQUIRE(end != std::string::npos);
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind(":", 0) == 0) continue;  // a comment (probe)
    REQUIRE(event.rfind("data: ", 0) == 0);
    REQUIRE_FALSE(done);
    if (event == "data: [DONE]") {
      done = true;
      continue;
    }
    const json c = json::parse(event.substr(6));
    CHECK(c["object"] == (chat ? "chat.completion.chunk" : "text_completion"));
    const json& choice = c["choices"][0];
    if (!choice["finish_reason"].is_null() && finish) *finish = choice["finish_reason"];
    if (chat) {
      if (choice["delta"].contains("content"))
        text += choice["delta"]["content"].get<std::string>();
    } else {
      text += choice["text"].get<std::string>();
    }
  }
  CHECK(done);
  return text;
}

json post(httplib::Client& c, const std::string& path, const json& body, int want_status) {
  const auto res = c.Post(path.c_str(), body.dump(), "application/json");
  REQUIRE(res);
  CHECK(res->status == want_status);
  return json::parse(res->body);
}

}  // namespace

TEST_CASE("serve: health, models, metrics, page and unknown routes") {
  TestServer s;
  auto c = s.client();
  auto res = c.Get("/health");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body)["status"] == "ok");
  res = c.Get("/v1/models");
  REQUIRE(res);
  const json models = json::parse(res->body);
  CHECK(models["object"] == "list");
  REQUIRE(models["data"].size() == 2);
  CHECK(models["data"][0]["id"] == "base");
  CHECK(models["data"][1]["id"] == "alice");
  post(c, "/v1/completions", {{"prompt", "Hello"}, {"max_tokens", 5}}, 200);
  res = c.Get("/metrics");
  REQUIRE(res);
  CHECK(res->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(res->body.find("cpurich_tokens_generated_total 5\n") != std::string::npos);
  CHECK(res->body.find("cpurich_requests_finished_total 1\n") != std::string::npos);
  CHECK(res->body.find("cpurich_time_to_first_token_seconds_count 1\n") != std::string::npos);
  CHECK(res->body.find("cpurich_queue_length 0\n") != std::string::npos);
  res = c.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("/v1/chat/completions") != std::string::npos);
  res = c.Get("/v1/nothing");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(json::parse(res->body)["error"]["message"] == "no such route");
}

TEST_CASE("serve: streamed and non-streamed completions equal generate() for the same seed") {
  TestServer s;
  auto c = s.client();
  for (const bool with_adapter : {false, true}) {
    json req = {{"prompt", "Hello world"}, {"max_tokens", 40}, {"seed", 7},
                {"temperature", 0.9},      {"top_k", 12},      {"stop", "q"}};
    if (with_adapter) req["model"] = "alice";
    const std::string want = reference_text("Hello world", req, with_adapter);
    const json r = post(c, "/v1/completions", req, 200);
    CHECK(r["object"] == "text_completion");
    CHECK(r["model"] == (with_adapter ? "alice" : "base"));
    CHECK(r["choices"][0]["text"] == want);
    CHECK(r["usage"]["prompt_tokens"] == 11);
    req["stream"] = true;
    const auto res = c.Post("/v1/completions", req.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "text/event-stream");
    std::string finish;
    CHECK(sse_text(res->body, false, &finish) == want);
    CHECK(finish == r["choices"][0]["finish_reason"]);
  }
  // Chat: the ### Human / ### Assistant template, streamed and not.
  json chat = {
      {"messages", {{{"role", "user"}, {"content", "Hi there"}}}}, {"max_tokens", 30}, {"seed", 3}};
  const std::string want = reference_text("### Human: Hi there\n### Assistant:", chat, false, true);
  const json r = post(c, "/v1/chat/completions", chat, 200);
  CHECK(r["object"] == "chat.completion");
  CHECK(r["choices"][0]["message"]["role"] == "assistant");
  CHECK(r["choices"][0]["message"]["content"] == want);
  chat["stream"] = true;
  const auto res = c.Post("/v1/chat/completions", chat.dump(), "application/json");
  REQUIRE(res);
  CHECK(sse_text(res->body, true) == want);
}

TEST_CASE("serve: concurrent requests on mixed adapters each equal their solo run") {
  TestServer s;
  const int n = 6;
  std::vector<std::string> got(n), want(n);
  std::vector<json> reqs;
  for (int i = 0; i < n; ++i) {
    json req = {{"prompt", i % 2 ? "Some prompt text" : "Another one"},
                {"max_tokens", 25 + i},
                {"seed", 100 + i},
                {"stream", i % 3 == 0}};
    if (i % 2) req["model"] = "alice";
    want[i] = reference_text(req["prompt"], req, i % 2 == 1);
    reqs.push_back(req);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto c = s.client();
      const auto res = c.Post("/v1/completions", reqs[i].dump(), "application/json");
      if (!res || res->status != 200) return;
      got[i] = reqs[i]["stream"] ? sse_text(res->body, false)
                                 : json::parse(res->body)["choices"][0]["text"].get<std::string>();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) CHECK(got[i] == want[i]);
}

TEST_CASE("serve: malformed requests get OpenAI-style errors") {
  TestServer s({.max_body_bytes = 4096, .limits = {.max_tokens = 50}});
  auto c = s.client();
  auto check_error = [&](const std::string& body, int status, const std::string& needle) {
    const auto res = c.Post("/v1/completions", body, "application/json");
    REQUIRE(res);
    CHECK(res->status == status);
    const json e = json::parse(res->body);
    REQUIRE(e.contains("error"));
    CHECK(e["error"]["message"].get<std::string>().find(needle) != std::string::npos);
    CHECK(e["error"]["type"].is_string());
  };
  check_error("{not json", 400, "not valid JSON");
  check_error(R"({"prompt": "Hi", "temperature": 1E999})", 400, "not valid JSON");
  check_error("[1,2]", 400, "JSON object");
  check_error(R"({"max_tokens": 5})", 400, "prompt is required");
  check_error(R"({"prompt": 5})", 400, "prompt must be a string");
  check_error(R"({"prompt": ""})", 400, "must not be empty");
  check_error(R"({"prompt": "Hi", "temperature": "hot"})", 400, "temperature must be a number");
  check_error(R"({"prompt": "Hi", "temperature": -1})", 400, "temperature");
  check_error(R"({"prompt": "Hi", "top_p": 2})", 400, "top");
  check_error(R"({"prompt": "Hi", "max_tokens": 0})", 400, "max_tokens must be >= 1");
  check_error(R"({"prompt": "Hi", "n": 2})", 400, "n = 1");
  check_error(R"({"prompt": "Hi", "stop": [1]})", 400, "stop");
  check_error(R"({"prompt": "Hi", "stream": "yes"})", 400, "stream must be a boolean");
  check_error(R"({"prompt": "Hi €"})", 400, "unknown character");
  check_error(json{{"prompt", std::string(200, 'a')}}.dump(), 400, "context holds 128");
  check_error(R"({"prompt": "Hi", "model": "bob"})", 404, "'bob' does not exist");
  check_error(json{{"prompt", std::string(5000, 'a')}}.dump(), 413, "too large");
  // max_tokens above the server's cap is clamped, not refused.
  const json r = post(c, "/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 1000}}, 200);
  CHECK(r["usage"]["completion_tokens"].get<int>() <= 50);
  const auto res =
      c.Post("/v1/chat/completions", R"({"messages": [{"role": "assistant", "content": "x"}]})",
             "application/json");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(json::parse(res->body)["error"]["param"] == "messages");
}

TEST_CASE("serve: the API key is required on every API route") {
  TestServer s({.api_key = "sesame"});
  auto c = s.client();
  for (const char* path : {"/health", "/v1/models", "/metrics"}) {
    const auto res = c.Get(path);
    REQUIRE(res);
    CHECK(res->status == 401);
    CHECK(json::parse(res->body)["error"]["code"] == "invalid_api_key");
  }
  post(c, "/v1/completions", {{"prompt", "Hi"}}, 401);
  c.set_bearer_token_auth("sesame");
  post(c, "/v1/completions", {{"prompt", "Hi"}}, 200);
  const auto res = c.Get("/v1/models");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("serve: a burst of clients connecting at once all get answers") {
  // Connections the server has not accepted yet wait in the kernel's listen
  // queue; when it is full, Linux drops them or answers with SYN cookies that
  // may later fail, resetting the connection. 128 connects from one thread
  // come faster than the accept loop takes them: every one must be answered.
  TestServer s;
  const int n = 128;
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    const timeval timeout{.tv_sec = 30, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    fds.push_back(fd);
  }
  const std::string request = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  int answered = 0;
  for (const int fd : fds) {
    std::string reply;
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[512];
      ssize_t got = 0;
      while ((got = recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<size_t>(got));
    }
    answered += reply.rfind("HTTP/1.1 200", 0) == 0;
    close(fd);
  }
  CHECK(answered == n);
}

TEST_CASE("serve: a client that leaves mid-stream cancels its sequence and frees its slot") {
  TestServer s({}, /*decode_delay_ms=*/5, /*max_slots=*/1);
  auto c = s.client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = json{{"prompt", "Hello"}, {"max_tokens", 100}, {"stream", true}}.dump();
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    return ++chunks < 2;  // read two pieces, then hang up
  };
  c.send(req);
  // The server notices on a later write, cancels, and frees the only slot:
  // a new request then runs to its end.
  bool cancelled = false;
  for (int i = 0; i < 200 && !cancelled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const SchedulerMetrics m = s.scheduler->metrics();
    cancelled = m.requests_cancelled == 1 && m.active == 0;
  }
  CHECK(cancelled);
  CHECK(s.scheduler->metrics().tokens_generated < 100);
  auto c2 = s.client();
  const json r = post(c2, "/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 3}}, 200);
  CHECK(r["usage"]["completion_tokens"] == 3);
}

TEST_CASE("serve: a full queue answers 429, a draining server 503") {
  TestServer s({}, /*decode_delay_ms=*/20, /*max_slots=*/1, /*max_queue=*/0);
  std::thread busy([&] {
    auto c = s.client();
    c.Post("/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 20}}.dump(),
           "application/json");
  });
  // Wait until the first request holds the only slot.
  for (int i = 0; i < 200 && s.scheduler->metrics().active == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c = s.client();
  json e = post(c, "/v1/completions", {{"prompt", "Hi"}}, 429);
  CHECK(e["error"]["code"] == "queue_full");
  busy.join();
  s.scheduler->drain(0);
  e = post(c, "/v1/completions", {{"prompt", "Hi"}}, 503);
  CHECK(e["error"]["code"] == "shutting_down");
}

TEST_CASE("serve: the chat page in headless Chromium sends a message and shows the reply") {
  const std::string chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) {
    WARN("chromium not installed, skipping the browser test (apt-get install chromium)");
    return;
  }
  // A slowed decoder (20 ms a token): the reply streams in over seconds, so
  // the page is read only once it has marked the reply done.
  TestServer s({}, /*decode_delay_ms=*/20);
  const json req = {{"max_tokens", 128}, {"temperature", 0.5}, {"seed", 0}};
  const std::string want = reference_text("### Human: Hello\n### Assistant:", req, false, true);
  // ?say= makes the page send "Hello" by itself (serve/web/index.html).
  test::HeadlessChromium browser(chromium);
  const std::string page = browser.open_page("http://127.0.0.1:" + std::to_string(s.port) +
                                             "/?say=Hello&temperature=0.5");
  const json reply = browser.wait_for(
      page, "document.querySelector('.assistant[data-done=\"true\"]')?.textContent ?? null",
      std::chrono::seconds(120));
  INFO("page: " << browser.wait_for(page, "document.body ? document.body.innerText : ''",
                                    std::chrono::seconds(1)));
  INFO("chromium stderr: " << browser.log().substr(0, 2000));
  REQUIRE(reply.is_string());
  CHECK(reply.get<std::string>() == want);
  const json user = browser.wait_for(page, "document.querySelector('.user')?.textContent ?? null",
                                     std::chrono::seconds(1));
  CHECK(user == "You: Hello");
}
