// fuzz_util.h: what the fuzz targets share. Loaders that read a directory
// (a model, an adapter, a checkpoint) get their files from one fuzz input cut
// at a separator line, written into a scratch directory that lives as long
// as the fuzzing process.
//
// Framing: FILE0 "\n--next-file--\n" FILE1 "\n--next-file--\n" FILE2 ...
// A part that is absent (fewer separators) is a missing file, so the
// loaders' "not found" paths are fuzzed too; an empty part is an empty file.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cpurich::fuzz {

inline constexpr std::string_view kFileSeparator = "\n--next-file--\n";

/// The input as text (the parsers take strings or byte spans).
inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// At most max_parts parts: the last one keeps any further separators.
inline std::vector<std::string_view> split_files(std::string_view input, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = input.find(kFileSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + kFileSeparator.size());
  }
  parts.push_back(input);
  return parts;
}

/// A directory under $TMPDIR (or /tmp), removed when the process exits normally.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cpurich_fuzz_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

  /// Writes parts[i] to names[i]; names past the last part are removed.
  void write_files(std::span<const std::string_view> parts, std::span<const char* const> names) {
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string file = path_ + "/" + names[i];
      if (i < parts.size()) {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(parts[i].data(), static_cast<std::streamsize>(parts[i].size()));
        if (!out) std::abort();
      } else {
        std::error_code ec;
        std::filesystem::remove(file, ec);
      }
    }
  }

 private:
  std::string path_;
};

}  // namespace cpurich::fuzz
