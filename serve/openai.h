// openai.h: the OpenAI API's JSON, without the HTTP: request bodies of
// /v1/completions and /v1/chat/completions turned into what the scheduler
// needs, responses and stream chunks in the shapes OpenAI clients parse,
// and errors as {"error": {"message", "type", "param", "code"}}.
//
// What it teaches: an API is a contract on field names, types and defaults;
// every field is checked here, once, so a bad request becomes a 400 with a
// message naming the field, never an exception deep in the model.
//
// Pipeline position: HTTP body -> [request] -> scheduler -> [response / SSE chunk] -> client.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "infer/generate.h"

namespace cpurich {

/// An error with its HTTP status and OpenAI's type / code strings.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, const std::string& message, std::string code = "",
           std::string param = "")
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        code(std::move(code)),
        param(std::move(param)) {}
  int status;
  std::string type;
  std::string code;
  std::string param;
};

/// {"error": {"message", "type", "param", "code"}} (null for empty strings).
nlohmann::json error_json(const ApiError& e);

/// A 400 "invalid_request_error" naming the field.
ApiError bad_field(const std::string& param, const std::string& message);

/// Limits the server applies to every request.
struct RequestLimits {
  int64_t max_tokens = 256;  ///< max_tokens is clamped to this (and is its default for chat)
};

/// A parsed completion or chat request.
struct CompletionRequest {
  bool chat = false;
  std::string model;   ///< "" = the base
  std::string prompt;  ///< the text the model continues (chat: the rendered template)
  GenerateOptions options;
  bool stream = false;
};

/// The request body as JSON. Throws ApiError (400) when it is not valid
/// JSON, including a number too large for a double ("1E999").
nlohmann::json parse_request_body(const std::string& text);

/// Parses a /v1/completions (chat = false) or /v1/chat/completions body.
/// Throws ApiError (400) naming the bad field.
CompletionRequest parse_completion_request(const nlohmann::json& body, bool chat,
                                           const RequestLimits& limits);

/// The project's chat format (infer/chat.h) over OpenAI messages: system
/// lines as they are, each user message as "### Human: <text>\n### Assistant:",
/// each assistant message as "<text>\n"; the last message must be the user's.
std::string render_chat(const nlohmann::json& messages);

/// The stop strings every chat request gets: the end of the answer's line
/// (fine-tuning trains each answer as " <answer>\n", and `cpurich chat` stops
/// there too) and, as a backstop, the next human turn.
inline const char* const kChatStop = "### Human:";
inline const char* const kChatLineStop = "\n";

}  // namespace cpurich
