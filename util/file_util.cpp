// file_util.cpp: see file_util.h (whole-file reads, atomic writes).
#include "util/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cpurich {

namespace {

std::atomic<int> g_fail_countdown{0};  // inject_write_failure: calls left until the failing one
std::atomic<int> g_fail_errno{0};

// The injected errno for this call, or 0.
int injected_failure() {
  int left = g_fail_countdown.load();
  while (left > 0 && !g_fail_countdown.compare_exchange_weak(left, left - 1)) {
  }
  return left == 1 ? g_fail_errno.load() : 0;
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  return buffer.str();
}

void inject_write_failure(int nth, int error) {
  g_fail_errno = error;
  g_fail_countdown = nth;
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // nothing to make durable if it cannot even be opened
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int injected = injected_failure();
  auto fail = [&](int fd, int err) {
    if (fd >= 0) ::close(fd);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
  };
  const bool fail_open = injected == EROFS || injected == EACCES;
  const int fd = fail_open ? -1 : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail(-1, fail_open ? injected : errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    // An injected ENOSPC strikes after half the bytes, as a disk filling up would.
    if (injected != 0 && done >= bytes.size() / 2) fail(fd, injected);
    const std::size_t want = injected != 0 ? bytes.size() / 2 - done : bytes.size() - done;
    const ssize_t n = ::write(fd, bytes.data() + done, want);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(fd, n == 0 ? ENOSPC : errno);
    done += static_cast<std::size_t>(n);
  }
  if (injected != 0) fail(fd, injected);  // an empty file fails too
  if (::fsync(fd) != 0) fail(fd, errno);
  if (::close(fd) != 0) fail(-1, errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(-1, errno);
  sync_directory(std::filesystem::path(path).parent_path().string());
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

}  // namespace cpurich
