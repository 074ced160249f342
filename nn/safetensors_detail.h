// safetensors_detail.h: internal pieces shared by safetensors.cpp and
// safetensors_validate.cpp (not part of the public API).
//
// The reader works in two phases so that nothing is allocated from untrusted
// numbers: validate_header() checks the JSON header against the buffer size
// and returns plain descriptions (TensorEntry); only then does the decoder
// allocate tensors, whose total size is now known to be bounded by the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cpurich::safetensors_detail {

/// One validated header entry: where a tensor lives in the data buffer.
struct TensorEntry {
  std::string name;
  std::string dtype;    ///< "F32", "F16", "BF16" or "U8"
  Shape shape;          ///< every dim >= 0, product fits in int64
  std::uint64_t begin;  ///< byte offsets into the data buffer, begin <= end <= buffer size
  std::uint64_t end;
};

/// The validated header: tensors sorted by name, plus the metadata.
struct Header {
  std::vector<TensorEntry> tensors;
  std::map<std::string, std::string> metadata;
};

/// Bytes per element of a supported dtype name; 0 if not supported.
std::size_t stored_dtype_size(const std::string& dtype);

/// Parses and validates the JSON header text against a data buffer of
/// `buffer_bytes` bytes. Throws SafetensorsError("<what>: ...") naming the
/// field or tensor at fault.
Header validate_header(const std::string& json_text, std::uint64_t buffer_bytes,
                       const std::string& what);

}  // namespace cpurich::safetensors_detail
