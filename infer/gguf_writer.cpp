// gguf_writer.cpp: encoding GGUF v3 (layout in gguf_writer.h). Every value is
// appended little-endian byte by byte, so the file is the same on any host.
#include "infer/gguf_writer.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "util/file_util.h"

namespace cpurich {

namespace {

// Appends the n low bytes of v, least significant first (little-endian).
void put_uint(std::vector<std::byte>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}
void put_u32(std::vector<std::byte>& out, uint32_t v) {
  put_uint(out, v, 4);
}
void put_u64(std::vector<std::byte>& out, uint64_t v) {
  put_uint(out, v, 8);
}
void put_string(std::vector<std::byte>& out, std::string_view s) {
  put_u64(out, s.size());
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}
void put_f32(std::vector<std::byte>& out, float v) {
  put_u32(out, std::bit_cast<uint32_t>(v));
}

uint64_t align_up(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

std::string_view ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return "f32";
    case GgmlType::F16:
      return "f16";
    case GgmlType::Q4_0:
      return "q4_0";
    case GgmlType::Q4_1:
      return "q4_1";
    case GgmlType::Q8_0:
      return "q8_0";
  }
  return "?";
}

int64_t ggml_tensor_bytes(GgmlType type, int64_t row, int64_t n) {
  int64_t block_bytes = 0;  // bytes per block of 32 for the quantized types
  switch (type) {
    case GgmlType::F32:
      return 4 * n;
    case GgmlType::F16:
      return 2 * n;
    case GgmlType::Q4_0:
      block_bytes = 18;
      break;
    case GgmlType::Q4_1:
      block_bytes = 20;
      break;
    case GgmlType::Q8_0:
      block_bytes = 34;
      break;
  }
  if (row <= 0 || row % 32 != 0)
    throw std::invalid_argument(std::string(ggml_type_name(type)) + " needs rows of whole " +
                                "blocks of 32 elements, got ne[0] = " + std::to_string(row));
  return n / 32 * block_bytes;
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw std::invalid_argument("GGUF alignment must be a power of 2, got " +
                                std::to_string(alignment));
  add_u32("general.alignment", alignment);
}

void GgufWriter::begin_kv(std::string_view key, GgufValueType type) {
  if (std::find(keys_.begin(), keys_.end(), key) != keys_.end())
    throw std::invalid_argument("GGUF key '" + std::string(key) + "' added twice");
  keys_.emplace_back(key);
  put_string(kv_, key);
  put_u32(kv_, static_cast<uint32_t>(type));
  ++n_kv_;
}

void GgufWriter::add_u32(std::string_view key, uint32_t value) {
  begin_kv(key, GgufValueType::UInt32);
  put_u32(kv_, value);
}

void GgufWriter::add_i32(std::string_view key, int32_t value) {
  begin_kv(key, GgufValueType::Int32);
  put_u32(kv_, static_cast<uint32_t>(value));
}

void GgufWriter::add_f32(std::string_view key, float value) {
  begin_kv(key, GgufValueType::Float32);
  put_f32(kv_, value);
}

void GgufWriter::add_bool(std::string_view key, bool value) {
  begin_kv(key, GgufValueType::Bool);
  put_uint(kv_, value ? 1 : 0, 1);
}

void GgufWriter::add_string(std::string_view key, std::string_view value) {
  begin_kv(key, GgufValueType::String);
  put_string(kv_, value);
}

void GgufWriter::add_string_array(std::string_view key, std::span<const std::string> values) {
  begin_kv(key, GgufValueType::Array);
  put_u32(kv_, static_cast<uint32_t>(GgufValueType::String));
  put_u64(kv_, values.size());
  for (const std::string& s : values) put_string(kv_, s);
}

void GgufWriter::add_i32_array(std::string_view key, std::span<const int32_t> values) {
  begin_kv(key, GgufValueType::Array);
  put_u32(kv_, static_cast<uint32_t>(GgufValueType::Int32));
  put_u64(kv_, values.size());
  for (int32_t v : values) put_u32(kv_, static_cast<uint32_t>(v));
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> ne, GgmlType type,
                            std::vector<uint8_t> data) {
  for (const TensorEntry& t : tensors_)
    if (t.name == name) throw std::invalid_argument("GGUF tensor '" + name + "' added twice");
  if (ne.empty() || ne.size() > 4)
    throw std::invalid_argument("GGUF tensor '" + name + "': 1 to 4 dimensions, got " +
                                std::to_string(ne.size()));
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d <= 0) throw std::invalid_argument("GGUF tensor '" + name + "': a dimension is <= 0");
    n *= d;
  }
  const int64_t want = ggml_tensor_bytes(type, ne[0], n);
  if (static_cast<int64_t>(data.size()) != want)
    throw std::invalid_argument("GGUF tensor '" + name + "': " + std::to_string(data.size()) +
                                " bytes, its shape and type need " + std::to_string(want));
  tensors_.push_back(TensorEntry{
      .name = std::move(name), .ne = std::move(ne), .type = type, .data = std::move(data)});
}

std::vector<std::byte> GgufWriter::bytes() const {
  std::vector<std::byte> out;
  put_u32(out, kGgufMagic);
  put_u32(out, kGgufVersion);
  put_u64(out, tensors_.size());
  put_u64(out, static_cast<uint64_t>(n_kv_));
  out.insert(out.end(), kv_.begin(), kv_.end());

  // The tensor table: offsets are relative to the start of the data section.
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const TensorEntry& t : tensors_) {
    put_string(out, t.name);
    put_u32(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put_u64(out, static_cast<uint64_t>(d));
    put_u32(out, static_cast<uint32_t>(t.type));
    put_u64(out, offset);
    offsets.push_back(offset);
    offset = align_up(offset + t.data.size(), alignment_);
  }

  out.resize(align_up(out.size(), alignment_), std::byte{0});
  const std::size_t data_start = out.size();
  out.resize(data_start + offset, std::byte{0});
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const auto& d = tensors_[i].data;
    std::transform(d.begin(), d.end(),
                   out.begin() + static_cast<std::ptrdiff_t>(data_start + offsets[i]),
                   [](uint8_t b) { return static_cast<std::byte>(b); });
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  write_file_atomic(path, bytes());
}

}  // namespace cpurich
