// half.h: IEEE half precision (F16) and bfloat16 (BF16), bit by bit.
//
// What it teaches: how a float is laid out and what rounding to fewer bits
// means. Checkpoints store F16/BF16 to halve their size; the quantized
// formats (tensor/quant_formats.h) store their per-block scales as F16,
// exactly as ggml does, so f32_to_f16 must round the way ggml rounds:
// to nearest, ties to even.
//
// Pipeline position: model files and quantized blocks <-> [half] <-> F32.
#pragma once

#include <cstdint>

namespace cpurich {

/// Exact widening F16 -> F32 (every F16 value is a F32 value).
float f16_to_f32(std::uint16_t bits);
/// Exact widening BF16 -> F32.
float bf16_to_f32(std::uint16_t bits);
/// F32 -> F16, rounded to nearest with ties to even; overflow gives +-inf,
/// NaN stays NaN (quiet).
std::uint16_t f32_to_f16(float value);

}  // namespace cpurich
