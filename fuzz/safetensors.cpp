// fuzz/safetensors.cpp: fuzzes parse_safetensors, the reader under every
// weights file (models, adapters, quantized models, checkpoints). The input
// is a whole file: the u64 header length, the JSON header (dtype, shape,
// data_offsets, __metadata__) and the data buffer. Any input must give a
// SafetensorsError or a file whose tensors fit the bytes given; a crash, a
// sanitizer report or an allocation beyond the input's size is a bug.
#include "nn/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  try {
    const SafetensorsFile f =
        parse_safetensors(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    // What was decoded must be backed by the input: 4 bytes per F32 element at least
    // half of that for F16/BF16, one per U8.
    size_t min_bytes = 0;
    for (const auto& [name, t] : f.tensors)
      min_bytes += static_cast<size_t>(t.numel()) * (f.stored_dtype.at(name) == "F32" ? 4 : 2);
    for (const auto& [name, b] : f.bytes) min_bytes += b.size();
    if (min_bytes > size) std::abort();
    // A file we read must serialize again (names and values are valid).
    (void)serialize_safetensors(f.tensors, f.metadata, f.bytes);
  } catch (const SafetensorsError&) {
  }
  return 0;
}
