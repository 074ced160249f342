// safetensors.cpp: the safetensors file layout, read and written.
//
// What it teaches: a binary file format from first principles.
//     bytes [0, 8)        N, the header length, as a little-endian u64
//     bytes [8, 8+N)      JSON header: {"name": {"dtype", "shape", "data_offsets"}, ...,
//                                       "__metadata__": {"key": "value"}}
//     bytes [8+N, end)    the data buffer; data_offsets are relative to its start
// Numbers are encoded little-endian byte by byte with shifts, so the code is
// the same on any machine and never reads a misaligned float. Reading is in
// two phases: validate the header against the real file size
// (safetensors_validate.cpp), then decode, so no allocation is ever sized by
// an unchecked number.
//
// Pipeline position: model weights <-> [model.safetensors] (nn/gpt.h save_model/load_model).
#include "nn/safetensors.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/safetensors_detail.h"
#include "util/file_util.h"

namespace cpurich {
namespace {

using safetensors_detail::TensorEntry;

[[noreturn]] void fail(const std::string& what, const std::string& message) {
  throw SafetensorsError(what + ": " + message);
}

/// Little-endian unsigned integer of `n` bytes starting at p.
std::uint64_t load_le(const std::byte* p, int n) {
  std::uint64_t value = 0;
  for (int i = n - 1; i >= 0; --i) value = (value << 8) | std::to_integer<std::uint64_t>(p[i]);
  return value;
}

void store_le(std::string& out, std::uint64_t value, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xffu));
}

/// Widens one validated entry's bytes to a fresh F32 tensor.
Tensor decode_tensor(const TensorEntry& entry, const std::byte* buffer) {
  Tensor tensor = Tensor::empty(entry.shape, DType::F32);
  const int64_t n = tensor.numel();
  if (n == 0) return tensor;
  float* out = tensor.data_f32();
  const std::byte* in = buffer + entry.begin;
  if (entry.dtype == "F32") {
    for (int64_t i = 0; i < n; ++i)
      out[i] = std::bit_cast<float>(static_cast<std::uint32_t>(load_le(in + 4 * i, 4)));
  } else if (entry.dtype == "F16") {
    for (int64_t i = 0; i < n; ++i)
      out[i] = f16_to_f32(static_cast<std::uint16_t>(load_le(in + 2 * i, 2)));
  } else {  // "BF16": U8 never reaches here, validate_header admits nothing else
    for (int64_t i = 0; i < n; ++i)
      out[i] = bf16_to_f32(static_cast<std::uint16_t>(load_le(in + 2 * i, 2)));
  }
  return tensor;
}

}  // namespace

SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& what) {
  if (bytes.size() < 8)
    fail(what, "file is " + std::to_string(bytes.size()) +
                   " bytes, too short for the 8-byte header length");
  const std::uint64_t header_bytes = load_le(bytes.data(), 8);
  const std::uint64_t after_length = bytes.size() - 8;
  if (header_bytes > kSafetensorsMaxHeaderBytes)
    fail(what, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                   std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  if (header_bytes == 0) fail(what, "header length is 0: the JSON header is missing");
  if (header_bytes > after_length)
    fail(what, "header length " + std::to_string(header_bytes) +
                   " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
  const std::string text(reinterpret_cast<const char*>(bytes.data()) + 8, header_bytes);
  const std::byte* buffer = bytes.data() + 8 + header_bytes;
  const auto header = safetensors_detail::validate_header(text, after_length - header_bytes, what);
  SafetensorsFile file;
  file.metadata = header.metadata;
  for (const TensorEntry& entry : header.tensors) {
    if (entry.dtype == "U8") {  // kept as bytes: they are not numbers on their own
      const auto* begin = reinterpret_cast<const std::uint8_t*>(buffer + entry.begin);
      file.bytes.emplace(entry.name,
                         std::vector<std::uint8_t>(begin, begin + (entry.end - entry.begin)));
    } else {
      file.tensors.emplace(entry.name, decode_tensor(entry, buffer));
    }
    file.stored_dtype.emplace(entry.name, entry.dtype);
  }
  return file;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  // The size comes from the file system, not from the file's contents, so it
  // is a safe bound for the one allocation below.
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot get the file size: " + ec.message());
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size)))
    fail(path, "cannot read " + std::to_string(size) + " bytes");
  return parse_safetensors(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), path);
}

std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata,
                                  const std::map<std::string, std::vector<std::uint8_t>>& bytes) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  auto check_name = [&](const std::string& name) {
    if (name.empty() || name == "__metadata__")
      fail("safetensors writer", "invalid tensor name '" + name + "'");
  };
  for (const auto& [name, tensor] : tensors) {  // std::map: sorted by name
    check_name(name);
    if (tensor.dtype() != DType::F32)
      fail("safetensors writer", "tensor '" + name + "' is " + dtype_name(tensor.dtype()) +
                                     "; only f32 tensors are written");
    const auto n_bytes = static_cast<std::uint64_t>(tensor.numel()) * 4;
    header[name] = {{"dtype", "F32"},
                    {"shape", tensor.shape()},
                    {"data_offsets", nlohmann::json::array({offset, offset + n_bytes})}};
    offset += n_bytes;
  }
  for (const auto& [name, data] : bytes) {  // after the F32 tensors in the buffer
    check_name(name);
    if (tensors.count(name))
      fail("safetensors writer", "tensor '" + name + "' is given both as f32 and as u8");
    const std::uint64_t n = data.size();
    header[name] = {{"dtype", "U8"},
                    {"shape", nlohmann::json::array({n})},
                    {"data_offsets", nlohmann::json::array({offset, offset + n})}};
    offset += n;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name that is not UTF-8
    fail("safetensors writer", std::string("cannot encode the header: ") + e.what());
  }
  // Pad with spaces (valid JSON whitespace) so the buffer starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  store_le(out, text.size(), 8);
  out += text;
  for (const auto& [name, tensor] : tensors) {
    const Tensor dense = tensor.contiguous();
    if (dense.numel() == 0) continue;
    for (const float v : dense.span_f32()) store_le(out, std::bit_cast<std::uint32_t>(v), 4);
  }
  for (const auto& [name, data] : bytes) out.append(data.begin(), data.end());
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::vector<std::uint8_t>>& bytes) {
  const std::string file = serialize_safetensors(tensors, metadata, bytes);
  try {
    write_file_atomic(path, file);
  } catch (const std::exception& e) {
    fail(path, std::string("cannot write safetensors file: ") + e.what());
  }
}

}  // namespace cpurich
