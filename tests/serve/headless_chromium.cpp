// headless_chromium.cpp: start Chromium with --remote-debugging-pipe, speak
// NUL-framed JSON to it, poll a page with Runtime.evaluate (see the header).
#include "tests/serve/headless_chromium.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cpurich::test {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::filesystem::path fresh_profile() {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             ("cpurich-chromium-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

void write_all(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) throw std::runtime_error("chromium: the debugging pipe closed");
    done += static_cast<size_t>(n);
  }
}

}  // namespace

HeadlessChromium::HeadlessChromium(const std::string& exe) : profile_(fresh_profile()) {
  std::signal(SIGPIPE, SIG_IGN);  // a dead browser must fail a write, not kill the test
  int commands[2], answers[2];
  if (::pipe(commands) != 0 || ::pipe(answers) != 0)
    throw std::runtime_error("chromium: cannot create pipes");
  const std::string log_path = (profile_ / "stderr.log").string();
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int null_fd = ::open("/dev/null", O_RDWR);
  std::vector<std::string> args = {exe,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--remote-debugging-pipe",
                                   "--user-data-dir=" + profile_.string(),
                                   "about:blank"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("chromium: fork failed");
  if (pid_ == 0) {
    // The child: only async-signal-safe calls until exec.
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd, 2);
    ::dup2(commands[0], 3);
    ::dup2(answers[1], 4);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(commands[0]);
  ::close(answers[1]);
  ::close(log_fd);
  ::close(null_fd);
  to_browser_ = commands[1];
  from_browser_ = answers[0];
}

HeadlessChromium::~HeadlessChromium() {
  try {
    call("Browser.close", json::object(), "", std::chrono::seconds(5));
  } catch (...) {
    // Already gone or not answering: killed below.
  }
  ::close(to_browser_);
  ::close(from_browser_);
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::error_code ec;
  std::filesystem::remove_all(profile_, ec);
}

json HeadlessChromium::read_message(Clock::time_point deadline) {
  for (;;) {
    if (const size_t end = pending_.find('\0'); end != std::string::npos) {
      json message = json::parse(pending_.substr(0, end));
      pending_.erase(0, end + 1);
      return message;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw std::runtime_error("chromium: no answer in time");
    pollfd p{.fd = from_browser_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::read(from_browser_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("chromium: the debugging pipe closed");
    pending_.append(buf, static_cast<size_t>(n));
  }
}

json HeadlessChromium::call(const std::string& method, const json& params,
                            const std::string& session, std::chrono::milliseconds timeout) {
  const int id = next_id_++;
  json command = {{"id", id}, {"method", method}, {"params", params}};
  if (!session.empty()) command["sessionId"] = session;
  write_all(to_browser_, command.dump() + std::string(1, '\0'));
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    json message = read_message(deadline);
    if (!message.contains("id") || message["id"] != id) continue;  // an event, or stale
    if (message.contains("error"))
      throw std::runtime_error("chromium: " + method + ": " + message["error"].dump());
    return message.value("result", json::object());
  }
}

std::string HeadlessChromium::open_page(const std::string& url) {
  const json target = call("Target.createTarget", {{"url", url}});
  const json attached =
      call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}});
  return attached["sessionId"];
}

json HeadlessChromium::wait_for(const std::string& session, const std::string& expression,
                                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const json params = {{"expression", expression}, {"returnByValue", true}};
  for (;;) {
    const json result = call("Runtime.evaluate", params, session)["result"];
    if (result.contains("value") && !result["value"].is_null()) return result["value"];
    if (Clock::now() > deadline) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string HeadlessChromium::log() const {
  std::ifstream in(profile_ / "stderr.log");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace cpurich::test
