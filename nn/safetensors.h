// safetensors.h: reading and writing model weights in the safetensors format.
//
// What it teaches: a model file is just named arrays of numbers. safetensors
// (the Hugging Face format) stores them as
//     [u64 little-endian N][N bytes of JSON header][data buffer]
// where the header maps each tensor name to {"dtype", "shape", "data_offsets"}
// (offsets relative to the buffer start) plus an optional "__metadata__" map of
// strings. Because a model file may come from anywhere, the reader treats it
// as hostile input: every field is validated before a single byte is trusted,
// and a bad file gives a one-line error naming the field or tensor, never a
// crash or a huge allocation. See docs/course/model_files.md.
//
// Pipeline position: text -> tokens -> tensors -> [model <-> model.safetensors] -> samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/half.h"
#include "tensor/tensor.h"

namespace cpurich {

/// Thrown for every malformed, unreadable or unwritable safetensors file.
/// The message starts with the file name (or the `what` given to
/// parse_safetensors) and names the offending field or tensor.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The contents of one safetensors file.
struct SafetensorsFile {
  /// name -> values, always converted to contiguous F32 (shape as stored).
  /// Every F32, F16 and BF16 tensor; U8 tensors are in `bytes` instead.
  std::map<std::string, Tensor> tensors;
  /// name -> raw bytes of each U8 tensor (flattened, not converted: a
  /// quantized matrix's blocks, see nn/quant_io.h).
  std::map<std::string, std::vector<std::uint8_t>> bytes;
  /// The "__metadata__" map (empty if the file has none).
  std::map<std::string, std::string> metadata;
  /// name -> dtype as stored in the file: "F32", "F16", "BF16" or "U8".
  std::map<std::string, std::string> stored_dtype;
};

/// Largest JSON header the reader accepts (100 MB, the limit the reference
/// implementation uses): bigger is certainly a corrupt or hostile file.
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

/// Reads and validates a whole file. Throws SafetensorsError on any problem
/// (cannot open, too short, bad header, unsupported dtype, bad offsets, ...).
SafetensorsFile read_safetensors(const std::string& path);

/// Validates and decodes the bytes of a file already in memory; `what` names
/// the source in error messages (a path, or a test case name).
SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& what);

/// The bytes of a safetensors file holding `tensors` as F32 and `bytes` as
/// 1-D U8 tensors, sorted by name, with the header padded with spaces to a
/// multiple of 8 bytes so the data buffer is 8-byte aligned. Tensors must be
/// F32 (any strides); names must be non-empty, not "__metadata__" and not in
/// both maps. Throws SafetensorsError otherwise.
std::string serialize_safetensors(
    const std::map<std::string, Tensor>& tensors,
    const std::map<std::string, std::string>& metadata = {},
    const std::map<std::string, std::vector<std::uint8_t>>& bytes = {});

/// serialize_safetensors() written atomically to `path` (temp file + fsync +
/// rename): on failure the previous file at `path` is left untouched.
/// Throws SafetensorsError naming the path.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       const std::map<std::string, std::vector<std::uint8_t>>& bytes = {});

}  // namespace cpurich
