// quant_formats.cpp: the reference quantizers and dequantizers (see
// quant_formats.h for the block layouts). Plain loops, one block at a time:
// these define the formats, and every fast kernel is tested against them.
#include "tensor/quant_formats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/half.h"
#include "tensor/quant_formats_internal.h"

namespace cpurich {

using quant_detail::check_row_length;
using quant_detail::load_f16;
using quant_detail::store_f16;

namespace {

constexpr QuantFormatInfo kFormats[] = {
    {.format = QuantFormat::Int8,
     .name = "int8",
     .block = 0,
     .block_bytes = 0,
     .bits_per_weight = 8.0},
    {.format = QuantFormat::Q8_0,
     .name = "q8_0",
     .block = 32,
     .block_bytes = 34,
     .bits_per_weight = 8.5},
    {.format = QuantFormat::Q4_0,
     .name = "q4_0",
     .block = 32,
     .block_bytes = 18,
     .bits_per_weight = 4.5},
    {.format = QuantFormat::Q4_1,
     .name = "q4_1",
     .block = 32,
     .block_bytes = 20,
     .bits_per_weight = 5.0},
    // 4 bits + an 8-bit code per 64 + an f32 per 64*256: 4 + 0.125 + 0.00195.
    {.format = QuantFormat::NF4,
     .name = "nf4",
     .block = 64,
     .block_bytes = 32,
     .bits_per_weight = 4.127},
};

}  // namespace

std::span<const QuantFormatInfo> quant_formats() {
  return kFormats;
}

const QuantFormatInfo& quant_format_info(QuantFormat format) {
  for (const auto& info : kFormats) {
    if (info.format == format) return info;
  }
  throw std::invalid_argument("unknown quantization format");
}

QuantFormat parse_quant_format(std::string_view name) {
  std::string names;
  for (const auto& info : kFormats) {
    if (info.name == name) return info.format;
    names += (names.empty() ? "" : ", ") + std::string(info.name);
  }
  throw std::invalid_argument("unknown quantization format '" + std::string(name) +
                              "' (one of: " + names + ")");
}

// ---- q8_0 -------------------------------------------------------------------

//! [q8_0_quantize]
void quantize_row_q8_0_ref(const float* x, uint8_t* y, int64_t k) {
  check_row_length(k, kQBlock, "q8_0");
  for (int64_t i = 0; i < k / kQBlock; ++i, x += kQBlock, y += 34) {
    float amax = 0.0f;
    for (int64_t j = 0; j < kQBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(y, d);
    for (int64_t j = 0; j < kQBlock; ++j) {
      y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
    }
  }
}
//! [q8_0_quantize]

void dequantize_row_q8_0(const uint8_t* y, float* x, int64_t k) {
  check_row_length(k, kQBlock, "q8_0");
  for (int64_t i = 0; i < k / kQBlock; ++i, x += kQBlock, y += 34) {
    const float d = load_f16(y);
    for (int64_t j = 0; j < kQBlock; ++j)
      x[j] = static_cast<float>(static_cast<int8_t>(y[2 + j])) * d;
  }
}

// ---- q4_0 -------------------------------------------------------------------

//! [q4_0_quantize]
void quantize_row_q4_0_ref(const float* x, uint8_t* y, int64_t k) {
  check_row_length(k, kQBlock, "q4_0");
  for (int64_t i = 0; i < k / kQBlock; ++i, x += kQBlock, y += 18) {
    float amax = 0.0f;  // the largest |x| ...
    float max = 0.0f;   // ... and the element it belongs to, sign kept
    for (int64_t j = 0; j < kQBlock; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    // max maps to q = 0 (d * (0 - 8) = max); the other end reaches +7 d, so
    // the 16 levels are used asymmetrically, on the side the outlier is not.
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(y, d);
    for (int64_t j = 0; j < kQBlock / 2; ++j) {
      const auto lo =
          std::min<uint8_t>(15, static_cast<uint8_t>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const auto hi =
          std::min<uint8_t>(15, static_cast<uint8_t>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
      y[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}
//! [q4_0_quantize]

//! [q4_0_dequantize]
void dequantize_row_q4_0(const uint8_t* y, float* x, int64_t k) {
  check_row_length(k, kQBlock, "q4_0");
  for (int64_t i = 0; i < k / kQBlock; ++i, x += kQBlock, y += 18) {
    const float d = load_f16(y);
    for (int64_t j = 0; j < kQBlock / 2; ++j) {
      x[j] = static_cast<float>((y[2 + j] & 0x0f) - 8) * d;
      x[j + 16] = static_cast<float>((y[2 + j] >> 4) - 8) * d;
    }
  }
}
//! [q4_0_dequantize]

// ---- q4_1 -------------------------------------------------------------------

//! [q4_1_quantize]
void quantize_row_q4_1_ref(const float* x, uint8_t* y, int64_t k) {
  check_row_length(k, kQBlock, "q4_1");
  for (int64_t i = 0; i < k / kQBlock; ++i, x += kQBlock, y += 20) {
    float min = FLT_MAX;
    float max = -FLT_MAX;
    for (int64_t j = 0; j < kQBlock; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(y, d);
    store_f16(y + 2, min);
    for (int64_t j = 0; j < kQBlock / 2; ++j) {
      const auto lo = std::min<uint8_t>(
          15, static_cast<uint8_t>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
      const auto hi = std::min<uint8_t>(
          15, static_cast<uint8_t>(static_cast<int8_t>((x[j + 16] - min) * id + 0.5f)));
      y[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}
//! [q4_1_quantize]

void dequantize_row_q4_1(const uint8_t* y, float* x, int64_t k) {
  check_row_length(k, kQBlock, "q4_1");
  for (int64_t i = 0; i < k / kQBlock; ++i, x += kQBlock, y += 20) {
    const float d = load_f16(y);
    const float m = load_f16(y + 2);
    for (int64_t j = 0; j < kQBlock / 2; ++j) {
      x[j] = static_cast<float>(y[4 + j] & 0x0f) * d + m;
      x[j + 16] = static_cast<float>(y[4 + j] >> 4) * d + m;
    }
  }
}

// ---- int8, one scale per row --------------------------------------------------

//! [int8_quantize]
void quantize_row_int8(const float* x, uint8_t* y, int64_t k) {
  check_row_length(k, 1, "int8");
  float amax = 0.0f;
  for (int64_t j = 0; j < k; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  std::memcpy(y, &d, 4);
  for (int64_t j = 0; j < k; ++j) {
    y[4 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
  }
}
//! [int8_quantize]

void dequantize_row_int8(const uint8_t* y, float* x, int64_t k) {
  check_row_length(k, 1, "int8");
  float d = 0.0f;
  std::memcpy(&d, y, 4);
  for (int64_t j = 0; j < k; ++j) x[j] = static_cast<float>(static_cast<int8_t>(y[4 + j])) * d;
}

}  // namespace cpurich
