// flag_checks.cpp: see flag_checks.h (parse-time checks of paths and names).
#include "cli/flag_checks.h"

#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "tokenizer/utf8.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

namespace fs = std::filesystem;

// "" if no ancestor of `path` is an existing non-directory, else a message.
std::string ancestors_are_directories(const fs::path& path) {
  std::error_code ec;
  for (fs::path p = path.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (fs::exists(p, ec) && !fs::is_directory(p, ec))
      return p.string() + " is a file, so " + path.string() + " cannot be created in it";
  return "";
}

}  // namespace

CLI::Validator adapter_dir() {
  return CLI::Validator(
      [](std::string& value) {
        const auto eq = value.find('=');
        const std::string dir = eq == std::string::npos ? value : value.substr(eq + 1);
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
          return "adapter directory " + dir +
                 (fs::exists(dir, ec) ? " is not a directory" : " does not exist");
        return std::string();
      },
      "DIR");
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& value) {
        std::error_code ec;
        if (fs::is_directory(value, ec))
          return value + " is a directory; give the path of the file to write";
        return ancestors_are_directories(value);
      },
      "");
}

CLI::Validator output_dir() {
  return CLI::Validator(
      [](std::string& value) {
        std::error_code ec;
        if (fs::exists(value, ec) && !fs::is_directory(value, ec))
          return value + " is a file, not a directory";
        return ancestors_are_directories(value);
      },
      "");
}

std::string read_text_input(const std::string& flag, const std::string& path) {
  std::string text = read_file(path);
  if (text.empty()) throw std::invalid_argument(flag + " " + path + ": the file is empty");
  try {
    utf8::validate(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(flag + " " + path + ": not UTF-8 text (" + e.what() + ")");
  }
  return text;
}

}  // namespace cpurich::cli
