// bench/serve_load: `cpurich serve` under a long mixed load, every response checked.
//
// What it measures: whether the server stays correct and bounded when many
// clients send many requests, some of them bad. An in-process server
// (serve/server.h) on 127.0.0.1 serves a random-weight model (2 layers, 2
// heads, 64 wide, 128-token context, the 95 printable ASCII characters and
// newline as vocabulary) and --adapters random LoRA adapters. --clients
// threads send --requests requests between them; request i's kind is a pure
// function of (--seed, i), so a run is the same mix whatever the timing:
//   valid (1 - --bad-share): completion or chat, streamed or not, on the
//     base or an adapter, one of 16 prompt / sampling / seed variants;
//   bad (--bad-share), ten kinds in equal shares: malformed JSON, a field of
//     the wrong type, an unknown model (404), a body over the size cap
//     (413), a prompt longer than the context (400), max_tokens above the
//     cap (clamped: 200, the text of the capped request), max_tokens < 1
//     (400), a stream the client drops after its first bytes, a request
//     whose client closes the socket without reading the answer, and one
//     whose client hangs up halfway through sending the body.
// Checks, request by request:
//   * a valid request's text (streamed pieces joined, or the JSON answer)
//     equals the text of the same request sent alone to the idle server
//     before the load: a response mixed up with another request's, or a
//     sequence disturbed by its batch neighbours, would differ (the seeds
//     make texts differ between requests); its id, object, model name and
//     finish reason are those of its request, and a stream ends in [DONE];
//   * a bad request gets its expected status and an OpenAI-style body
//     {"error": {"message", "type", ...}};
// and at the end: the server still answers /health, every accepted request
// ended (finished or cancelled, none left running or queued), and the
// server's 400 / 404 counts equal the bad requests sent. Resident memory
// (VmRSS) is read after a warm-up load of --warmup requests (same mix) and
// after the run, once the server is idle; their ratio must stay within
// --rss-tolerance (0 = not checked, for sanitizer builds whose allocator
// keeps freed memory in quarantine).
//
// Usage: serve_load [--requests N] [--clients C] [--warmup W] [--bad-share F]
//                   [--adapters K] [--max-tokens M] [--rss-tolerance T]
//                   [--threads T] [--seed S]
// Prints one JSON object {"requests", "clients", "valid", "bad", "mismatches",
// "wrong_status", "transport_errors", "rss_warm_kb", "rss_end_kb",
// "rss_ratio", "ok", ...}; exits 1 if any check failed.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>
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

constexpr int64_t kContext = 128;
constexpr int64_t kMaxBodyBytes = 16 * 1024;
constexpr int kVariants = 16;
const std::array<std::string, 4> kPrompts = {"Once upon a time", "The cat sat on the",
                                             "Q: what is 2+2?\nA:", "hello world, "};

enum class Kind {
  Valid,
  BadJson,       // 400
  BadType,       // 400
  UnknownModel,  // 404
  BigBody,       // 413
  BigPrompt,     // 400: more tokens than the context
  BigMaxTokens,  // 200, clamped to the cap
  BadMaxTokens,  // 400
  DropStream,    // 200, the client hangs up after its first bytes
  DropUnread,    // the client sends a whole request and closes at once
  DropMidBody,   // the client closes halfway through the body
};
constexpr int kBadKinds = 10;
const std::array<const char*, kBadKinds + 1> kKindNames = {
    "valid",       "bad_json",    "bad_type",       "unknown_model",
    "big_body",    "big_prompt",  "big_max_tokens", "bad_max_tokens",
    "drop_stream", "drop_unread", "drop_mid_body"};

// One request of the run, a pure function of (seed, index).
struct Plan {
  Kind kind = Kind::Valid;
  bool chat = false;
  bool stream = false;
  int model = 0;  // index into the served names (0 = base)
  int variant = 0;
};

// SplitMix64's finaliser: consecutive indices give unrelated 64-bit values,
// whose bit fields then pick each property of a request independently.
uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

Plan plan(uint64_t seed, int64_t index, double bad_share, int n_models) {
  const uint64_t h = splitmix(seed * 0x100000001b3ull + static_cast<uint64_t>(index));
  const uint64_t h2 = splitmix(h);
  Plan p;
  if (static_cast<double>(h % 1000000) < bad_share * 1e6)
    p.kind = static_cast<Kind>(1 + (h2 >> 8) % kBadKinds);
  p.chat = (h2 >> 20) & 1;
  p.stream = (h2 >> 21) & 1;
  p.model = static_cast<int>((h2 >> 22) % static_cast<uint64_t>(n_models));
  p.variant = static_cast<int>((h2 >> 32) % kVariants);
  return p;
}

// The body of a valid request: prompt, sampling fields and seed set by the
// variant, so that the 16 variants exercise different samplers and texts.
json valid_body(const Plan& p, const std::string& model, int64_t max_tokens) {
  json b = {{"model", model}, {"seed", 1000 + p.variant}, {"max_tokens", max_tokens}};
  const std::string& prompt = kPrompts[static_cast<size_t>(p.variant % 4)];
  if (!p.chat) {
    b["prompt"] = prompt;
  } else if (p.variant % 2 == 0) {
    b["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
  } else {  // a conversation with history and a system line
    b["messages"] = json::array({{{"role", "system"}, {"content", "Be brief."}},
                                 {{"role", "user"}, {"content", "Hi"}},
                                 {{"role", "assistant"}, {"content", "Hello."}},
                                 {{"role", "user"}, {"content", prompt}}});
  }
  switch (p.variant / 4) {
    case 0:
      b["top_k"] = 5;
      break;
    case 1:
      b["top_p"] = 0.9;
      b["temperature"] = 0.8;
      break;
    case 2:
      b["min_p"] = 0.05;
      b["repetition_penalty"] = 1.3;
      break;
    default:
      b["temperature"] = 1.2;
      break;
  }
  if (p.stream) b["stream"] = true;
  return b;
}

std::string path_of(bool chat) {
  return chat ? "/v1/chat/completions" : "/v1/completions";
}

// A solo run's answer, the reference for the same request under load.
struct Ref {
  std::string text;
  std::string finish;
};
using RefKey = std::tuple<bool, int, int, int64_t>;  // chat, model, variant, max_tokens

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// The answer (text, finish reason) in a non-streamed body, or an error message.
std::string parse_answer(const std::string& body, bool chat, const std::string& model, Ref& out) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    return std::string("response is not JSON: ") + e.what();
  }
  if (str(j, "object") != (chat ? "chat.completion" : "text_completion"))
    return "wrong object '" + str(j, "object") + "'";
  if (str(j, "model") != model) return "model '" + str(j, "model") + "' for '" + model + "'";
  if (str(j, "id").rfind(chat ? "chatcmpl-" : "cmpl-", 0) != 0) return "bad id";
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() != 1)
    return "no single choice";
  const json& c = j["choices"][0];
  out.text = chat ? (c.contains("message") ? str(c["message"], "content") : "") : str(c, "text");
  out.finish = str(c, "finish_reason");
  return "";
}

// The answer in a server-sent event stream, or an error message: "data:
// {json}" events (comments ":..." are probes) ending in "data: [DONE]", all
// chunks with one id, the request's model, and one finish reason at the end.
std::string parse_stream(const std::string& body, bool chat, const std::string& model, Ref& out) {
  std::string id;
  bool done = false, first = true;
  size_t pos = 0;
  out = {};
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) return "unterminated event";
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind(":", 0) == 0) continue;
    if (done) return "event after [DONE]";
    if (event == "data: [DONE]") {
      done = true;
      continue;
    }
    if (event.rfind("data: ", 0) != 0) return "event without data:";
    json c;
    try {
      c = json::parse(event.substr(6));
    } catch (const json::exception& e) {
      return std::string("chunk is not JSON: ") + e.what();
    }
    if (str(c, "object") != (chat ? "chat.completion.chunk" : "text_completion"))
      return "wrong chunk object";
    if (str(c, "model") != model)
      return "chunk model '" + str(c, "model") + "' for '" + model + "'";
    if (first) id = str(c, "id");
    if (str(c, "id") != id || id.empty()) return "chunk ids differ";
    first = false;
    if (!c.contains("choices") || !c["choices"].is_array() || c["choices"].size() != 1)
      return "chunk without a single choice";
    const json& ch = c["choices"][0];
    if (!out.finish.empty()) return "chunk after the finish reason";
    out.finish = str(ch, "finish_reason");
    if (chat)
      out.text += ch.contains("delta") ? str(ch["delta"], "content") : "";
    else
      out.text += str(ch, "text");
  }
  if (!done) return "no [DONE]";
  if (out.finish.empty()) return "no finish reason";
  return "";
}

// "" if body is an OpenAI error object, else what is wrong with it.
std::string check_error_body(const std::string& body) {
  try {
    const json j = json::parse(body);
    if (!j.contains("error") || !j["error"].is_object()) return "no error object";
    const json& e = j["error"];
    if (!e.contains("message") || !e["message"].is_string()) return "error without a message";
    if (!e.contains("type") || !e["type"].is_string()) return "error without a type";
    return "";
  } catch (const json::exception& e) {
    return std::string("error body is not JSON: ") + e.what();
  }
}

// Sends bytes on a fresh loopback connection and closes it without reading.
bool send_and_close(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  for (size_t sent = 0; ok && sent < bytes.size();) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    ok = n > 0;
    sent += ok ? static_cast<size_t>(n) : 0;
  }
  close(fd);
  return ok;
}

std::string raw_post(const std::string& path, const std::string& body, size_t content_length) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(content_length) + "\r\n\r\n" + body;
}

int64_t rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Tallies shared by the client threads.
struct Tally {
  std::mutex mutex;
  std::map<std::string, int64_t> by_kind;
  std::vector<std::string> failures;  // the first few, for stderr
  int64_t mismatches = 0, wrong_status = 0, transport_errors = 0;
  int64_t sent_400 = 0, sent_404 = 0;  // answered by the routes (counted in /metrics)
  int64_t sure_200 = 0, maybe_200 = 0;

  void fail(int64_t& counter, const std::string& what) {
    std::lock_guard lock(mutex);
    ++counter;
    if (failures.size() < 20) failures.push_back(what);
  }
};

struct Env {
  int port = 0;
  std::vector<std::string> names;  // served model names, base first
  int64_t max_tokens = 8;          // what valid requests ask for
  int64_t cap = 32;                // the server's max_tokens cap
  std::map<RefKey, Ref> refs;
};

// Sends request `p` and checks its answer.
void run_one(const Env& env, httplib::Client& c, const Plan& p, int64_t index, Tally& t) {
  const std::string& model = env.names[static_cast<size_t>(p.model)];
  const std::string where = "request " + std::to_string(index) + " (" +
                            kKindNames[static_cast<size_t>(p.kind)] + ", " + model +
                            (p.chat ? ", chat" : "") + (p.stream ? ", stream" : "") + "): ";
  // The status each kind must get (drops are checked by the server's state).
  const int want = p.kind == Kind::UnknownModel ? 404
                   : p.kind == Kind::BigBody    ? 413
                   : p.kind == Kind::BadJson || p.kind == Kind::BadType ||
                           p.kind == Kind::BigPrompt || p.kind == Kind::BadMaxTokens
                       ? 400
                       : 200;
  json body = valid_body(p, model, env.max_tokens);
  if (p.kind == Kind::UnknownModel) {
    body["model"] = "no-such-model";
  } else if (p.kind == Kind::BadType) {
    const char* fields[] = {"temperature", "stream", "max_tokens", "seed"};
    body[fields[p.variant % 4]] = "oops";
    if (p.variant % 8 >= 4) body[p.chat ? "messages" : "prompt"] = json::object({{"x", 1}});
  } else if (p.kind == Kind::BigBody) {  // an unknown field, ignored, but too large
    body[p.chat ? "user" : "suffix"] = std::string(kMaxBodyBytes, 'x');
  } else if (p.kind == Kind::BigPrompt) {
    const std::string long_prompt(static_cast<size_t>(kContext + 10 + p.variant), 'a');
    if (p.chat)
      body["messages"] = json::array({{{"role", "user"}, {"content", long_prompt}}});
    else
      body["prompt"] = long_prompt;
  } else if (p.kind == Kind::BigMaxTokens) {
    body["max_tokens"] = 1000000;
  } else if (p.kind == Kind::BadMaxTokens) {
    body["max_tokens"] = -3;
  } else if (p.kind >= Kind::DropStream) {
    body["max_tokens"] = env.cap;  // long enough to be running when dropped
  }
  std::string text = body.dump();
  if (p.kind == Kind::BadJson) text.resize(text.size() / 2);  // cut mid-value: not JSON
  const std::string path = path_of(p.chat);

  if (p.kind == Kind::DropUnread || p.kind == Kind::DropMidBody) {
    const bool mid = p.kind == Kind::DropMidBody;
    // mid: Content-Length promises the whole body, half of it comes.
    const std::string bytes =
        raw_post(path, mid ? text.substr(0, text.size() / 2) : text, text.size());
    if (!send_and_close(env.port, bytes)) t.fail(t.transport_errors, where + "connect failed");
    std::lock_guard lock(t.mutex);
    if (!mid) ++t.maybe_200;
    return;
  }
  if (p.kind == Kind::DropStream) {
    body["stream"] = true;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.set_header("Content-Type", "application/json");
    req.body = body.dump();
    int status = 0;
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [](const char*, size_t, uint64_t, uint64_t) { return false; };
    c.send(req);
    if (status != 200) t.fail(t.wrong_status, where + "status " + std::to_string(status));
    std::lock_guard lock(t.mutex);
    ++t.sure_200;
    return;
  }

  const auto res = c.Post(path.c_str(), text, "application/json");
  if (!res) {
    t.fail(t.transport_errors, where + "no response (" + httplib::to_string(res.error()) + ")");
    return;
  }
  if (res->status != want) {
    t.fail(t.wrong_status, where + "status " + std::to_string(res->status) + ", want " +
                               std::to_string(want) + ": " + res->body.substr(0, 200));
    return;
  }
  if (want != 200) {
    const std::string e = check_error_body(res->body);
    if (!e.empty()) t.fail(t.wrong_status, where + e);
    std::lock_guard lock(t.mutex);
    t.sent_400 += want == 400;
    t.sent_404 += want == 404;
    return;
  }
  {
    std::lock_guard lock(t.mutex);
    ++t.sure_200;
  }
  const int64_t asked = p.kind == Kind::BigMaxTokens ? env.cap : env.max_tokens;
  const Ref& ref = env.refs.at({p.chat, p.model, p.variant, asked});
  Ref got;
  const std::string e = p.stream ? parse_stream(res->body, p.chat, model, got)
                                 : parse_answer(res->body, p.chat, model, got);
  if (!e.empty())
    t.fail(t.mismatches, where + e);
  else if (got.text != ref.text || got.finish != ref.finish)
    t.fail(t.mismatches, where + "text " + json(got.text).dump() + " (" + got.finish + "), solo " +
                             json(ref.text).dump() + " (" + ref.finish + ")");
}

// `count` requests from index `first`, spread over `clients` threads.
void run_load(const Env& env, int clients, int64_t first, int64_t count, uint64_t seed,
              double bad_share, Tally& t) {
  std::atomic<int64_t> next{first};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", env.port);
      c.set_read_timeout(300, 0);
      c.set_keep_alive(i % 2 == 1);  // half the clients reuse connections
      for (int64_t k = next++; k < first + count; k = next++) {
        const Plan p = plan(seed, k, bad_share, static_cast<int>(env.names.size()));
        {
          std::lock_guard lock(t.mutex);
          ++t.by_kind[kKindNames[static_cast<size_t>(p.kind)]];
        }
        run_one(env, c, p, k, t);
      }
    });
  }
  for (auto& th : threads) th.join();
}

// The server's "cpurich_http_responses_total{status="S"}" counter.
int64_t responses_with_status(const std::string& metrics, int status) {
  const std::string key =
      "cpurich_http_responses_total{status=\"" + std::to_string(status) + "\"} ";
  const size_t pos = metrics.find(key);
  return pos == std::string::npos ? 0 : std::stoll(metrics.substr(pos + key.size()));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/serve_load: a long mixed load against an in-process cpurich server"};
  int64_t requests = 10000, warmup = 1000;
  int clients = 32, adapters = 2, threads = 1;
  double bad_share = 0.1, rss_tolerance = 0.10;
  int64_t max_tokens = 8;
  uint64_t seed = 1;
  app.add_option("--requests", requests, "Requests in the checked run (default 10000)");
  app.add_option("--clients", clients, "Concurrent client threads (default 32)");
  app.add_option("--warmup", warmup, "Requests before the first memory reading (default 1000)");
  app.add_option("--bad-share", bad_share, "Share of bad requests (default 0.1)");
  app.add_option("--adapters", adapters,
                 "Random LoRA adapters served next to the base (default 2)");
  app.add_option("--max-tokens", max_tokens, "New tokens per valid request (default 8)");
  app.add_option("--rss-tolerance", rss_tolerance,
                 "Allowed growth of resident memory over the run (default 0.10; 0 = unchecked)");
  app.add_option("--threads", threads, "Compute threads (default 1)");
  app.add_option("--seed", seed, "Seed of the request mix (default 1)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (requests < 1 || clients < 1 || warmup < 0 || adapters < 0 || max_tokens < 1 ||
        bad_share < 0 || bad_share > 1 || rss_tolerance < 0)
      throw std::invalid_argument("bad option value");
    set_num_threads(threads);
    std::vector<char32_t> chars = {U'\n'};
    for (char32_t ch = 32; ch < 127; ++ch) chars.push_back(ch);  // printable ASCII
    const CharTokenizer tokenizer(chars);
    GPTConfig config;
    config.n_layer = 2, config.n_head = 2, config.n_embd = 64;
    config.n_positions = kContext;
    config.vocab_size = tokenizer.vocab_size();
    GPT model(config, 7);
    const int64_t max_batch = 8, chunk = 16;
    BatchDecoder decoder(model, {.max_slots = max_batch, .max_rows = max_batch + chunk});
    Env env;
    env.max_tokens = max_tokens;
    env.cap = 4 * max_tokens;
    env.names = {"base"};
    for (int k = 0; k < adapters; ++k) {
      add_lora(model, {.rank = 4, .alpha = 8, .seed = static_cast<uint64_t>(k + 1)});
      Rng rng(static_cast<uint64_t>(k + 100));
      for (const auto& [name, lin] : model.linear_modules())
        if (lin->lora)
          lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 0.2));
      env.names.push_back("adapter" + std::to_string(k));
      decoder.add_adapter(take_lora_weights(model));
    }
    std::vector<ServedModel> served;
    for (size_t k = 0; k < env.names.size(); ++k)
      served.push_back({.name = env.names[k], .adapter = static_cast<int32_t>(k) - 1});
    // The queue holds every client's request: a 429 would be a failure here.
    Scheduler scheduler(decoder, tokenizer, {.max_queue = 2 * clients, .prefill_chunk = chunk});
    Server server(scheduler, tokenizer, served,
                  {.port = 0,
                   .max_body_bytes = kMaxBodyBytes,
                   .limits = {.max_tokens = env.cap},
                   .max_connections = clients + 8});
    env.port = server.bind();
    std::thread http([&] { server.run(); });
    const auto t0 = Clock::now();

    // Reference texts: each distinct valid request, alone on the idle server.
    httplib::Client solo("127.0.0.1", env.port);
    solo.set_read_timeout(300, 0);
    std::set<std::string> distinct;
    for (const bool chat : {false, true})
      for (int m = 0; m < static_cast<int>(env.names.size()); ++m)
        for (int v = 0; v < kVariants; ++v)
          for (const int64_t asked : {env.max_tokens, env.cap}) {
            const Plan p{.chat = chat, .model = m, .variant = v};
            const std::string& name = env.names[static_cast<size_t>(m)];
            const auto res = solo.Post(path_of(chat).c_str(), valid_body(p, name, asked).dump(),
                                       "application/json");
            if (!res || res->status != 200)
              throw std::runtime_error("solo request failed: " + (res ? res->body : "no answer"));
            Ref ref;
            const std::string e = parse_answer(res->body, chat, name, ref);
            if (!e.empty()) throw std::runtime_error("solo request: " + e);
            distinct.insert(ref.text);
            env.refs[{chat, m, v, asked}] = ref;
          }
    const int64_t solo_requests = static_cast<int64_t>(env.refs.size());

    Tally warm, run;
    run_load(env, clients, 0, warmup, seed, bad_share, warm);
    // Settled: nothing running or queued, every accepted request ended, and
    // the same for 200 ms (a dropped socket's request may still be on its way
    // in when its client has already returned).
    const auto settle = [&] {
      std::string before;
      for (int i = 0; i < 100; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto res = solo.Get("/metrics");
        const SchedulerMetrics m = scheduler.metrics();
        const int64_t accepted = res ? responses_with_status(res->body, 200) : -1;
        const std::string now = std::to_string(accepted) + " " + std::to_string(m.steps);
        if (m.active == 0 && m.queue_length == 0 &&
            accepted == m.requests_finished + m.requests_cancelled && now == before)
          return true;
        before = now;
      }
      return false;
    };
    settle();
    const int64_t rss_warm = rss_kb();
    const auto t_run = Clock::now();
    run_load(env, clients, warmup, requests, seed, bad_share, run);
    const double run_seconds = std::chrono::duration<double>(Clock::now() - t_run).count();
    const bool settled = settle();
    const int64_t rss_end = rss_kb();

    // The server after the run: alive, nothing left running, its counters
    // equal to what the clients sent.
    std::vector<std::string> end_failures;
    const auto health = solo.Get("/health");
    const bool alive = health && health->status == 200;
    if (!alive) end_failures.push_back("/health does not answer");
    if (!settled) end_failures.push_back("requests still running or queued after the run");
    const auto metrics_res = solo.Get("/metrics");
    const std::string metrics = metrics_res ? metrics_res->body : "";
    const SchedulerMetrics m = scheduler.metrics();
    const int64_t accepted = responses_with_status(metrics, 200);
    const int64_t ended = m.requests_finished + m.requests_cancelled;
    if (accepted != ended)
      end_failures.push_back(std::to_string(accepted) + " requests accepted but " +
                             std::to_string(ended) + " ended");
    const int64_t sure = solo_requests + warm.sure_200 + run.sure_200;
    if (accepted < sure || accepted > sure + warm.maybe_200 + run.maybe_200)
      end_failures.push_back("the server accepted " + std::to_string(accepted) +
                             " requests, the clients between " + std::to_string(sure) + " and " +
                             std::to_string(sure + warm.maybe_200 + run.maybe_200));
    if (responses_with_status(metrics, 400) != warm.sent_400 + run.sent_400 ||
        responses_with_status(metrics, 404) != warm.sent_404 + run.sent_404)
      end_failures.push_back("the server's 400 / 404 counts differ from the clients'");
    for (const int status : {429, 500, 503})
      if (responses_with_status(metrics, status) != 0)
        end_failures.push_back("the server answered " + std::to_string(status));

    const double ratio =
        rss_warm > 0 ? static_cast<double>(rss_end) / static_cast<double>(rss_warm) : 0.0;
    const bool rss_ok = rss_tolerance == 0 || (rss_warm > 0 && ratio <= 1.0 + rss_tolerance);
    const int64_t mismatches = warm.mismatches + run.mismatches;
    const int64_t wrong_status = warm.wrong_status + run.wrong_status;
    const int64_t transport = warm.transport_errors + run.transport_errors;
    const bool ok =
        mismatches == 0 && wrong_status == 0 && transport == 0 && end_failures.empty() && rss_ok;
    for (const Tally* t : {&warm, &run})
      for (const std::string& f : t->failures) std::fprintf(stderr, "serve_load: %s\n", f.c_str());
    for (const std::string& f : end_failures) std::fprintf(stderr, "serve_load: %s\n", f.c_str());

    scheduler.drain(0);
    server.stop();
    http.join();
    const json out = {{"requests", requests},
                      {"clients", clients},
                      {"warmup", warmup},
                      {"bad_share", bad_share},
                      {"valid", run.by_kind["valid"]},
                      {"bad", requests - run.by_kind["valid"]},
                      {"by_kind", run.by_kind},
                      {"solo_references", solo_requests},
                      {"distinct_reference_texts", static_cast<int64_t>(distinct.size())},
                      {"mismatches", mismatches},
                      {"wrong_status", wrong_status},
                      {"transport_errors", transport},
                      {"server_alive", alive},
                      {"server_accepted", accepted},
                      {"server_cancelled", m.requests_cancelled},
                      {"tokens_generated", m.tokens_generated},
                      {"rss_warm_kb", rss_warm},
                      {"rss_end_kb", rss_end},
                      {"rss_ratio", ratio},
                      {"rss_checked", rss_tolerance > 0},
                      {"run_seconds", run_seconds},
                      {"total_seconds", std::chrono::duration<double>(Clock::now() - t0).count()},
                      {"threads", num_threads()},
                      {"ok", ok}};
    std::printf("%s\n", out.dump().c_str());
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_load: %s\n", e.what());
    return 1;
  }
}
