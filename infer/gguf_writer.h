// gguf_writer.h: the GGUF container format (version 3), written from scratch.
//
// What it teaches: how llama.cpp / ggml store a model in ONE self-describing
// file. All numbers are little-endian; a string is (u64 length, bytes).
//
//   header        "GGUF"  u32 version = 3  i64 n_tensors  i64 n_kv
//   metadata      n_kv x (string key, u32 value type, value)
//                 (an array value is u32 element type, u64 count, elements)
//   tensor table  n_tensors x (string name, u32 n_dims, i64 ne[n_dims],
//                              u32 ggml type, u64 offset)
//   padding       zeros up to a multiple of general.alignment (default 32)
//   data          every tensor's bytes at data_start + offset, each offset
//                 a multiple of the alignment (zeros between tensors)
//
// ne[] lists the dimensions FASTEST FIRST (ggml's convention, the reverse of
// a row-major shape): a PyTorch (out, in) matrix is ne = {in, out}, and its
// quantized blocks run along ne[0]. Offsets are aligned so a reader can mmap
// the file and use the tensors in place (SIMD loads want aligned rows).
//
// Pipeline position: trained model -> [GGUF file] -> llama.cpp / ollama / ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cpurich {

/// The ggml tensor types we write (their ids in ggml.h's enum ggml_type).
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8 };

/// GGUF metadata value types (ids in gguf.h's enum gguf_type).
enum class GgufValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

inline constexpr uint32_t kGgufMagic = 0x46554747;  ///< "GGUF" read as a little-endian u32
inline constexpr uint32_t kGgufVersion = 3;
inline constexpr uint32_t kGgufDefaultAlignment = 32;

/// "f32", "f16", "q4_0", "q4_1" or "q8_0".
std::string_view ggml_type_name(GgmlType type);
/// Bytes of a tensor of this type with ne[0] = row elements and n elements in
/// all; throws std::invalid_argument if a quantized row is not whole blocks of 32.
int64_t ggml_tensor_bytes(GgmlType type, int64_t row, int64_t n);

/// Collects metadata and tensors, then lays the file out. Keys and tensor
/// names must be unique (throws std::invalid_argument naming the duplicate).
class GgufWriter {
 public:
  /// Writes "general.alignment" = alignment as the first key (a power of 2).
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  void add_u32(std::string_view key, uint32_t value);
  void add_i32(std::string_view key, int32_t value);
  void add_f32(std::string_view key, float value);
  void add_bool(std::string_view key, bool value);
  void add_string(std::string_view key, std::string_view value);
  void add_string_array(std::string_view key, std::span<const std::string> values);
  void add_i32_array(std::string_view key, std::span<const int32_t> values);

  /// One tensor: ne fastest dimension first, `data` exactly
  /// ggml_tensor_bytes(type, ne[0], prod ne) bytes (else std::invalid_argument).
  void add_tensor(std::string name, std::vector<int64_t> ne, GgmlType type,
                  std::vector<uint8_t> data);

  int64_t n_kv() const { return n_kv_; }
  int64_t n_tensors() const { return static_cast<int64_t>(tensors_.size()); }
  /// The whole file, laid out as in the header comment.
  std::vector<std::byte> bytes() const;
  /// bytes() written atomically (temp file, fsync, rename).
  void write(const std::string& path) const;

 private:
  struct TensorEntry {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<uint8_t> data;
  };
  void begin_kv(std::string_view key, GgufValueType type);

  uint32_t alignment_;
  std::vector<std::byte> kv_;  // the encoded metadata, in the order added
  int64_t n_kv_ = 0;
  std::vector<std::string> keys_;
  std::vector<TensorEntry> tensors_;
};

}  // namespace cpurich
