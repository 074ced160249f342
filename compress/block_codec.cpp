// block_codec.cpp: ggml's q4_0 / q4_1 rules split into scale, code, pack
// (see block_codec.h); test_compress checks them against quant_formats.
#include "compress/block_codec.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/half.h"

namespace cpurich::compress {

namespace {
float f16_round(float v) {
  return f16_to_f32(f32_to_f16(v));
}
void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}
}  // namespace

void require_q4(QuantFormat format, const char* who) {
  if (format != QuantFormat::Q4_0 && format != QuantFormat::Q4_1)
    throw std::invalid_argument(std::string(who) + ": format must be q4_0 or q4_1, not " +
                                std::string(quant_format_info(format).name));
}

BlockScale q4_block_scale(QuantFormat format, const float* v) {
  BlockScale s;
  if (format == QuantFormat::Q4_0) {
    float amax = 0.0f, max = 0.0f;
    for (int64_t j = 0; j < kQBlock; ++j)
      if (amax < std::fabs(v[j])) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    const float d = max / -8.0f;
    s.id = d != 0.0f ? 1.0f / d : 0.0f;
    s.d = f16_round(d);
  } else {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int64_t j = 0; j < kQBlock; ++j) {
      min = std::min(min, v[j]);
      max = std::max(max, v[j]);
    }
    const float d = (max - min) / 15.0f;
    s.id = d != 0.0f ? 1.0f / d : 0.0f;
    s.d = f16_round(d);
    s.m = f16_round(min);
    s.min = min;
  }
  return s;
}

uint8_t q4_code(QuantFormat format, const BlockScale& s, float w) {
  const float t = format == QuantFormat::Q4_0 ? w * s.id + 8.5f : (w - s.min) * s.id + 0.5f;
  return static_cast<uint8_t>(std::clamp(std::trunc(t), 0.0f, 15.0f));
}

float q4_value(QuantFormat format, const BlockScale& s, uint8_t code) {
  if (format == QuantFormat::Q4_0) return static_cast<float>(code - 8) * s.d;
  return static_cast<float>(code) * s.d + s.m;
}

void pack_q4_block(QuantFormat format, const BlockScale& s, const uint8_t* codes, uint8_t* dst) {
  put_f16(dst, s.d);
  uint8_t* nib = dst + 2;
  if (format == QuantFormat::Q4_1) {
    put_f16(dst + 2, s.m);
    nib = dst + 4;
  }
  for (int64_t j = 0; j < kQBlock / 2; ++j)
    nib[j] = static_cast<uint8_t>(codes[j] | (codes[j + 16] << 4));
}

}  // namespace cpurich::compress
