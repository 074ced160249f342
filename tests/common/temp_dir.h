// temp_dir.h: a scratch directory for tests that write files (checkpoints,
// model directories, tokenizers). Shared by every test area so they all
// clean up the same way.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace cpurich::test {

/// A fresh, empty directory under the system temp dir, removed on scope exit.
/// The name joins a tag, the process id and a per-process counter, so tests
/// running in parallel processes, or two TempDirs in one test, never collide.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) : path_(make_path(tag)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;  // never throw from a destructor
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// The directory itself.
  const std::filesystem::path& path() const { return path_; }
  /// The path of `name` inside the directory.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static std::filesystem::path make_path(const std::string& tag) {
    static std::atomic<int> counter{0};
    return std::filesystem::temp_directory_path() /
           ("cpurich_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  }
  std::filesystem::path path_;
};

}  // namespace cpurich::test
