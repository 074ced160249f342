// fuzz/openai_request.cpp: fuzzes the server's request parser: the JSON body
// of POST /v1/completions and /v1/chat/completions (prompt, messages, the
// sampling fields, stop, stream) turned into a CompletionRequest. Every bad
// body must become an ApiError (a 400 naming the field); anything else
// escaping would reach cpp-httplib as a 500 or kill the server. The first
// byte picks the endpoint, the rest is the body.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "serve/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  if (size == 0) return 0;
  const bool chat = data[0] & 1;
  // The body goes through the same two calls as in the server.
  try {
    const nlohmann::json body = parse_request_body(std::string(fuzz::as_text(data + 1, size - 1)));
    (void)parse_completion_request(body, chat, RequestLimits{});
  } catch (const ApiError& e) {
    (void)error_json(e);
  }
  return 0;
}
