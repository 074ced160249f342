// half.cpp: F16 and BF16 <-> F32, written out bit by bit (see half.h).
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
// Narrowing F32 -> F16 must round: the 13 mantissa bits F16 has no room for
// are dropped, rounding to the nearer F16 and, on an exact tie, to the one
// with an even last bit (IEEE's default, and what ggml's scales use).
//
// Pipeline position: model.safetensors (F16/BF16 bytes) -> [widen] -> F32 weights.
#include "tensor/half.h"

#include <bit>
#include <cmath>
#include <cstdint>

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

std::uint16_t f32_to_f16(float value) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);  // NaN
  // |value| >= 65520 rounds past F16's largest finite 65504: infinity.
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (abs < 0x38800000u) {
    // Below F16's smallest normal 2^-14: a subnormal m * 2^-24, m = round(|v| * 2^24).
    // Adding 0.5 (as 2^-1) in float arithmetic rounds ties to even for us:
    // |v| + 0.5 has a 23-bit mantissa whose unit is 2^-24 at this size.
    const float shifted = std::bit_cast<float>(abs) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3f000000u));
  }
  // Normal: re-bias the exponent (e - 127 + 15) and keep the top 10 mantissa
  // bits; the 13 dropped bits decide the rounding (a carry may bump the
  // exponent, which is still the right F16).
  const std::uint32_t rebiased = abs - ((127u - 15u) << 23);
  const std::uint32_t odd = (rebiased >> 13) & 1u;
  return static_cast<std::uint16_t>(sign | ((rebiased + 0x0fffu + odd) >> 13));
}

}  // namespace cpurich
