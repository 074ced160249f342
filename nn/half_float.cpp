// half_float.cpp: F16 and BF16 -> F32, written out bit by bit.
//
// What it teaches: how IEEE floating point is laid out. A float is
//     sign | exponent | mantissa          value = (-1)^s * 2^(e - bias) * 1.m
//   F32:   1 |    8 (bias 127) |    23
//   F16:   1 |    5 (bias 15)  |    10
//   BF16:  1 |    8 (bias 127) |     7
// Both 16-bit formats are subsets of F32 (fewer exponent and/or mantissa
// bits), so widening them is exact: no rounding is ever needed. Hugging Face
// checkpoints are often stored in F16 or BF16 to halve their size.
//
// Pipeline position: model.safetensors (F16/BF16 bytes) -> [widen] -> F32 weights.
#include <bit>
#include <cmath>
#include <cstdint>

#include "nn/safetensors.h"

namespace cpurich {

float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits >> 15) << 31;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) {
    // Infinity (mantissa 0) or NaN: all-ones exponent in F32 too. The 10
    // mantissa bits move to the top of F32's 23, so the NaN payload (and its
    // quiet bit, the top mantissa bit) is kept.
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    // Zero or subnormal: value = 0.m * 2^(1 - 15) = mantissa * 2^-24. The
    // mantissa (< 2^10) is exact as a float and scaling by a power of two is
    // exact, so this is the exact value; F32's range covers it as a normal.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  // Normal: re-bias the exponent (e - 15 + 127) and widen the mantissa.
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

float bf16_to_f32(std::uint16_t bits) {
  // BF16 is F32 with the low 16 mantissa bits dropped: put them back as zeros.
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

}  // namespace cpurich
