// checkpoint_files.cpp: the save journal (see checkpoint_files.h).
#include "train/checkpoint_files.h"

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "util/crc32.h"
#include "util/file_util.h"

namespace cpurich {

namespace {

namespace fs = std::filesystem;

constexpr const char* kStaging = ".staging";
// The manifest ends with this key: its value is the CRC-32 of the manifest's
// bytes before it (closed with "\n}"), so any changed byte is caught.
constexpr const char* kChecksumKey = ",\n  \"checksum\": \"crc32:";

std::string hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

std::runtime_error mismatch(const std::string& path) {
  return std::runtime_error("checkpoint " + path +
                            ": checksum mismatch (torn or corrupted file); refusing to load it");
}

// The manifest's JSON once its own checksum is verified.
nlohmann::json read_manifest(const std::string& path) {
  const std::string text = read_file(path);
  const size_t at = text.rfind(kChecksumKey);
  if (at == std::string::npos) throw mismatch(path);
  const size_t hex_at = at + std::string(kChecksumKey).size();
  if (text.size() != hex_at + 8 + 4 || text.compare(hex_at + 8, 4, "\"\n}\n") != 0)
    throw mismatch(path);
  const std::string body = text.substr(0, at) + "\n}";
  if (hex32(crc32(body)) != text.substr(hex_at, 8)) throw mismatch(path);
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    throw mismatch(path);  // a checksum that matches bytes we did not write
  }
}

uint32_t crc_of_file(const std::string& path) {
  return crc32(read_file(path));
}

}  // namespace

std::string begin_commit(const std::string& dir) {
  fs::create_directories(dir);
  const std::string staging = join(dir, kStaging);
  fs::remove_all(staging);
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().find(".tmp.") != std::string::npos)
      fs::remove(e.path());
  fs::create_directory(staging);
  return staging;
}

void finish_commit(const std::string& dir, const std::string& manifest_name, nlohmann::json state) {
  const std::string staging = join(dir, kStaging);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& e : fs::directory_iterator(staging))
    if (e.is_regular_file())
      files[e.path().filename().string()] = "crc32:" + hex32(crc_of_file(e.path().string()));
  sync_directory(staging);
  state["files"] = files;
  const std::string body = state.dump(2);  // ends with "\n}"
  const std::string text =
      body.substr(0, body.size() - 2) + kChecksumKey + hex32(crc32(body)) + "\"\n}\n";
  write_file_atomic(join(dir, manifest_name), text);  // the commit point
  for (const auto& el : files.items()) fs::rename(join(staging, el.key()), join(dir, el.key()));
  sync_directory(dir);
  fs::remove_all(staging);
}

nlohmann::json open_commit(const std::string& dir, const std::string& manifest_name) {
  const std::string path = join(dir, manifest_name);
  if (!fs::exists(path))
    throw std::runtime_error("cannot resume: " + path + " not found (not a checkpoint directory)");
  nlohmann::json state = read_manifest(path);
  if (!state.is_object() || !state.contains("files") || !state["files"].is_object())
    throw std::runtime_error("checkpoint " + path + ": no file list");
  const std::string staging = join(dir, kStaging);
  bool rolled = false;
  for (const auto& el : state["files"].items()) {
    const std::string& name = el.key();
    const nlohmann::json& crc = el.value();
    if (!crc.is_string() || name.find('/') != std::string::npos || name.empty() || name[0] == '.')
      throw std::runtime_error("checkpoint " + path + ": bad entry '" + name + "'");
    const std::string want = crc.get<std::string>();
    const std::string file = join(dir, name), staged = join(staging, name);
    if (fs::exists(file) && "crc32:" + hex32(crc_of_file(file)) == want) continue;
    if (fs::exists(staged) && "crc32:" + hex32(crc_of_file(staged)) == want) {
      fs::rename(staged, file);  // the save was killed after its commit point: finish it
      rolled = true;
      continue;
    }
    if (!fs::exists(file)) throw std::runtime_error("checkpoint " + file + ": not found");
    throw mismatch(file);
  }
  if (rolled) sync_directory(dir);
  std::error_code ec;
  fs::remove_all(staging, ec);
  state.erase("files");
  return state;
}

void truncate_jsonl(const std::string& path, int64_t iter) {
  if (!fs::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;  // a line cut short by a kill
    if (j.contains("iter") && j["iter"].is_number_integer() && j["iter"].get<int64_t>() > iter)
      continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace cpurich
