// bench/busy: a benchmark's throughput on a quiet machine and next to N busy
// programs, side by side.
//
// What it measures: a laptop is never idle (a browser, a video call, an
// indexer). This runs a benchmark twice: once alone, then with N
// single-threaded busy processes of its own spinning beside it (each one wants
// a whole core, like `yes > /dev/null`), and prints one JSON line:
//   {"quiet": 26200, "busy": 16500, "busy_over_quiet": 0.63, "background": 1, ...}
// The throughput is read from the command's JSON output (one object per line,
// e.g. bench/train --json, bench/decode --json): the first line that has the
// field. The busy processes are started right before the busy run and killed
// right after it, also when the command fails or this program is interrupted.
// See docs/course/threads.md for what the numbers mean.
//
//   busy [--background N] [--field NAME] [--repeat R] -- CMD ARGS...
//     --background  busy processes during the second run (default 1)
//     --field       JSON field to read (default: the first of tokens_per_s,
//                   decode_tok_s, tok_per_s, tokens_per_second found)
//     --repeat      runs per condition, the median is reported (default 1)
// e.g. busy --background 1 -- build/release/bench/train --config tiny --json
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int kMaxBackground = 256;
// Busy children, readable from a signal handler (0 = slot free).
volatile sig_atomic_t g_children[kMaxBackground];
int g_child_count = 0;

void kill_children() {
  for (int i = 0; i < g_child_count; ++i)
    if (g_children[i] > 0) kill(static_cast<pid_t>(g_children[i]), SIGKILL);
}

extern "C" void on_signal(int sig) {
  kill_children();  // kill() is async-signal-safe
  signal(sig, SIG_DFL);
  raise(sig);
}

// N processes that spin until killed; they also die with us (PDEATHSIG).
class BusyProcesses {
 public:
  explicit BusyProcesses(int n) {
    for (int i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(0);  // the parent is already gone
        volatile uint64_t x = 0;
        for (;;) x = x + 1;
      }
      g_children[g_child_count++] = pid;
    }
  }
  BusyProcesses(const BusyProcesses&) = delete;
  BusyProcesses& operator=(const BusyProcesses&) = delete;
  ~BusyProcesses() {
    kill_children();
    for (int i = 0; i < g_child_count; ++i) {
      waitpid(static_cast<pid_t>(g_children[i]), nullptr, 0);
      g_children[i] = 0;
    }
    g_child_count = 0;
  }
};

// Runs argv, returns its standard output; throws if it fails.
std::string run_capture(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "busy: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the command failed (status " + std::to_string(status) +
                             "); its output:\n" + out);
  return out;
}

// The first JSON line of `out` with a numeric `field` (or one of the usual
// throughput names when field is empty).
double throughput(const std::string& out, const std::string& field) {
  const std::vector<std::string> names =
      field.empty() ? std::vector<std::string>{"tokens_per_s", "decode_tok_s", "tok_per_s",
                                               "tokens_per_second"}
                    : std::vector<std::string>{field};
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    start = end + 1;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    for (const std::string& n : names)
      if (j.contains(n) && j[n].is_number()) return j[n].get<double>();
  }
  throw std::runtime_error(
      "no JSON line with a throughput field in the output (did you pass "
      "--json to the benchmark?):\n" +
      out);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int parse_count(const char* flag, const char* value, int lo, int hi) {
  char* end = nullptr;
  const long n = value ? std::strtol(value, &end, 10) : 0;
  if (!value || *end != '\0' || n < lo || n > hi)
    throw std::invalid_argument(std::string(flag) + " needs an integer in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int background = 1, repeat = 1;
    std::string field;
    std::vector<std::string> command;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
      if (a == "--") {
        command.assign(argv + i + 1, argv + argc);
        break;
      } else if (a == "--background") {
        background = parse_count("--background", next, 0, kMaxBackground), ++i;
      } else if (a == "--repeat") {
        repeat = parse_count("--repeat", next, 1, 100), ++i;
      } else if (a == "--field" && next) {
        field = next, ++i;
      } else {
        throw std::invalid_argument("unknown option '" + a + "'");
      }
    }
    if (command.empty())
      throw std::invalid_argument(
          "usage: busy [--background N] [--field NAME] [--repeat R] -- CMD ARGS...");
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_signal);

    std::vector<double> quiet, busy;
    for (int r = 0; r < repeat; ++r) quiet.push_back(throughput(run_capture(command), field));
    {
      const BusyProcesses load(background);
      for (int r = 0; r < repeat; ++r) busy.push_back(throughput(run_capture(command), field));
    }
    std::string joined;
    for (const std::string& a : command) joined += (joined.empty() ? "" : " ") + a;
    const double q = median(quiet), b = median(busy);
    std::printf("%s\n", nlohmann::ordered_json{{"quiet", q},
                                               {"busy", b},
                                               {"busy_over_quiet", q > 0 ? b / q : 0.0},
                                               {"background", background},
                                               {"repeat", repeat},
                                               {"command", joined}}
                            .dump()
                            .c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "busy: %s\n", e.what());
    return 1;
  }
}
