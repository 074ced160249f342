// headless_chromium.h: drives a headless Chromium through the DevTools
// protocol over a pipe (--remote-debugging-pipe), so a test can wait in real
// time until a page reaches a state, then read it. Test support for the chat
// page (serve/web/index.html); not part of the library.
//
// Why not `chromium --dump-dom`: it dumps as soon as the page's virtual time
// budget runs out, and a streamed fetch body does not hold virtual time back,
// so on a slow or busy machine the dump comes before the reply has arrived.
//
// The protocol: each message is one JSON object followed by a NUL byte. The
// browser reads commands on its fd 3 and writes answers and events on its
// fd 4. A command {"id", "method", "params", "sessionId"?} gets back one
// {"id", "result"} or {"id", "error"}; a session (Target.attachToTarget with
// flatten) addresses one page.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace cpurich::test {

class HeadlessChromium {
 public:
  // Starts `exe` headless with a fresh profile in a temporary folder. Throws
  // std::runtime_error if it cannot start.
  explicit HeadlessChromium(const std::string& exe);
  ~HeadlessChromium();
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  // Sends one command and returns its "result"; throws on an "error" answer
  // or when no answer comes within `timeout`.
  nlohmann::json call(const std::string& method,
                      const nlohmann::json& params = nlohmann::json::object(),
                      const std::string& session = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Opens `url` in a new tab and attaches to it; returns the session id.
  std::string open_page(const std::string& url);

  // Evaluates the JavaScript `expression` in the page every 50 ms until it
  // returns something other than null; returns that value, or null once
  // `timeout` has passed.
  nlohmann::json wait_for(const std::string& session, const std::string& expression,
                          std::chrono::milliseconds timeout);

  // Everything the browser wrote on stderr so far (for failure messages).
  std::string log() const;

 private:
  nlohmann::json read_message(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int to_browser_ = -1;    // our end of the browser's fd 3
  int from_browser_ = -1;  // our end of the browser's fd 4
  int next_id_ = 1;
  std::string pending_;  // bytes read but not yet split into messages
  std::filesystem::path profile_;
};

}  // namespace cpurich::test
