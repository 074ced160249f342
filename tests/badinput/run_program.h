// run_program.h: runs a program the way a shell would (argv, working
// directory, stdin from /dev/null), with a time limit, and returns how it
// ended and what it printed. The bad-input tests use it to run `cpurich`
// hundreds of times, several at once, without a shell in between (a shell
// would mangle the empty and non-UTF-8 arguments they pass on purpose).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "util/file_util.h"

namespace cpurich::test {

/// How a run ended.
struct RunResult {
  bool exited = false;     ///< ended by exit() (not by a signal, not killed on time-out)
  int exit_code = -1;      ///< valid when exited
  int signal = 0;          ///< the signal that ended it (0 if it exited)
  bool timed_out = false;  ///< still running after the time limit: killed
  std::string out, err;    ///< what it wrote to stdout and stderr
};

/// Runs argv[0] with `argv` and `env` in directory `cwd`, stdin = /dev/null,
/// stdout and stderr into the files `log_prefix`.out / .err; kills it with
/// SIGKILL after `timeout_s` seconds. Thread-safe: the child only calls
/// async-signal-safe functions between fork and exec.
inline RunResult run_program(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env, const std::string& cwd,
                             const std::string& log_prefix, double timeout_s) {
  const std::string out_path = log_prefix + ".out", err_path = log_prefix + ".err";
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0 || chdir(cwd.c_str()) != 0) _exit(125);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  RunResult r;
  if (pid < 0) return r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.exited = !r.timed_out && WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

}  // namespace cpurich::test
