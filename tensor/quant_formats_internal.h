// quant_formats_internal.h: the little helpers the block formats share
// (tensor/quant_formats.cpp: the row quantizers; quant_matrix.cpp: whole
// matrices): F16 scales stored little-endian, as ggml writes them, and the
// row-length check every format makes. Not part of the public API.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/half.h"

namespace cpurich::quant_detail {

inline void store_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);  // little-endian, as ggml writes it on x86 and ARM
}

inline float load_f16(const uint8_t* p) {
  uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

inline void check_row_length(int64_t k, int64_t block, const char* what) {
  if (k <= 0 || k % block != 0) {
    throw std::invalid_argument(std::string(what) + ": row length " + std::to_string(k) +
                                " is not a positive multiple of " + std::to_string(block));
  }
}

}  // namespace cpurich::quant_detail
