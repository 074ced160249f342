// openai.cpp: request parsing and error bodies (see openai.h).
#include "serve/openai.h"

#include <algorithm>

namespace cpurich {

using nlohmann::json;

namespace {

json null_if_empty(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

// body[key] as a number, or fallback when absent / null.
double number(const json& body, const char* key, double fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_number()) throw bad_field(key, std::string(key) + " must be a number");
  return body[key].get<double>();
}

int64_t integer(const json& body, const char* key, int64_t fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_number_integer())
    throw bad_field(key, std::string(key) + " must be an integer");
  return body[key].get<int64_t>();
}

std::vector<std::string> stop_strings(const json& body) {
  if (!body.contains("stop") || body["stop"].is_null()) return {};
  const json& s = body["stop"];
  if (s.is_string()) return {s.get<std::string>()};
  if (!s.is_array() || s.size() > 16)
    throw bad_field("stop", "stop must be a string or an array of at most 16 strings");
  std::vector<std::string> out;
  for (const json& x : s) {
    if (!x.is_string() || x.get<std::string>().empty())
      throw bad_field("stop", "stop must hold non-empty strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

}  // namespace

json error_json(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", null_if_empty(e.param)},
            {"code", null_if_empty(e.code)}}}};
}

ApiError bad_field(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", message, "", param);
}

json parse_request_body(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for "1E999"
    throw bad_field("", std::string("the body is not valid JSON: ") + e.what());
  }
}

std::string render_chat(const json& messages) {
  if (!messages.is_array() || messages.empty())
    throw bad_field("messages", "messages must be a non-empty array");
  std::string text;
  std::string last_role;
  for (const json& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      throw bad_field("messages", "each message needs a string role and a string content");
    const auto role = m["role"].get<std::string>();
    const auto content = m["content"].get<std::string>();
    if (role == "system")
      text += content + "\n";
    else if (role == "user")
      text += "### Human: " + content + "\n### Assistant:";
    else if (role == "assistant")
      text += content + "\n";
    else
      throw bad_field("messages", "unknown role '" + role + "' (system, user or assistant)");
    last_role = role;
  }
  if (last_role != "user") throw bad_field("messages", "the last message must be the user's");
  return text;
}

CompletionRequest parse_completion_request(const json& body, bool chat,
                                           const RequestLimits& limits) {
  if (!body.is_object()) throw bad_field("", "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (body.contains("model") && !body["model"].is_null()) {
    if (!body["model"].is_string()) throw bad_field("model", "model must be a string");
    r.model = body["model"].get<std::string>();
  }
  if (chat) {
    if (!body.contains("messages")) throw bad_field("messages", "messages is required");
    r.prompt = render_chat(body["messages"]);
  } else {
    if (!body.contains("prompt")) throw bad_field("prompt", "prompt is required");
    const json& p = body["prompt"];
    if (p.is_array() && p.size() == 1 && p[0].is_string())
      r.prompt = p[0].get<std::string>();
    else if (p.is_string())
      r.prompt = p.get<std::string>();
    else
      throw bad_field("prompt", "prompt must be a string (or an array of one string)");
    if (r.prompt.empty()) throw bad_field("prompt", "prompt must not be empty");
  }
  if (body.contains("stream") && !body["stream"].is_null()) {
    if (!body["stream"].is_boolean()) throw bad_field("stream", "stream must be a boolean");
    r.stream = body["stream"].get<bool>();
  }
  if (integer(body, "n", 1) != 1) throw bad_field("n", "only n = 1 is supported");
  // OpenAI's defaults: 16 new tokens for completions, as many as allowed for chat.
  const int64_t max_tokens = integer(
      body, chat && body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
      chat ? limits.max_tokens : std::min<int64_t>(16, limits.max_tokens));
  if (max_tokens < 1) throw bad_field("max_tokens", "max_tokens must be >= 1");
  const int64_t seed = integer(body, "seed", 0);
  if (seed < 0) throw bad_field("seed", "seed must be >= 0");
  const int64_t top_k = integer(body, "top_k", -1);
  if (top_k != -1 && top_k < 1) throw bad_field("top_k", "top_k must be >= 1 (or -1 for off)");
  r.options.sampler = SamplerOptions{.temperature = number(body, "temperature", 1.0),
                                     .top_k = top_k,
                                     .top_p = number(body, "top_p", 1.0),
                                     .min_p = number(body, "min_p", 0.0),
                                     .repetition_penalty = number(body, "repetition_penalty", 1.0),
                                     .seed = static_cast<uint64_t>(seed)};
  try {
    r.options.sampler.validate(std::max<int64_t>(top_k, 1));  // top_k's bound: the model's vocab
  } catch (const std::invalid_argument& e) {
    throw bad_field("", e.what());
  }
  r.options.max_new_tokens = std::min(max_tokens, limits.max_tokens);
  r.options.stop = stop_strings(body);
  if (chat) {
    r.options.stop.push_back(kChatStop);
    r.options.stop.push_back(kChatLineStop);
  }
  r.options.context = ContextPolicy::Stop;
  return r;
}

}  // namespace cpurich
