// block_codec.h: one ggml block of 32 weights, one weight at a time.
//
// What it teaches: tensor/quant_formats.h quantizes a whole block at once.
// GPTQ cannot: it fixes the block's scale when it reaches the block's first
// column, then rounds each column only after the error of the previous ones
// has been pushed onto it. So the format is split into its three steps:
//   scale   from the 32 current values (ggml's rule, bit for bit)
//   code    one weight -> its nibble under that scale (ggml's rounding)
//   pack    32 nibbles + the f16 scale(s) -> the format's block bytes
// With no error feedback the three steps give exactly quantize_row_q4_*_ref.
//
// Pipeline position: quant_formats -> [block_codec] -> gptq / imatrix.
#pragma once

#include <cstdint>

#include "tensor/quant_formats.h"

namespace cpurich::compress {

/// A q4_0 or q4_1 block's scale as ggml computes it and as it is stored.
struct BlockScale {
  float d = 0.0f;    ///< stored scale (f16-rounded): value = d * (q - 8) or d * q + m
  float m = 0.0f;    ///< q4_1: stored minimum (f16-rounded); q4_0: unused
  float id = 0.0f;   ///< 1 / (the f32 scale before rounding): ggml rounds with it
  float min = 0.0f;  ///< q4_1: the f32 minimum ggml rounds against
};

/// v (32,) -> ggml's scale for `format` (Q4_0: d = signed max / -8;
/// Q4_1: d = (max - min) / 15, m = min).
BlockScale q4_block_scale(QuantFormat format, const float* v);
/// One weight's nibble (ggml's: trunc(w / d + 8.5) or trunc((w - min) / d + 0.5),
/// clamped to 0..15: error feedback may push a weight past the block's range).
uint8_t q4_code(QuantFormat format, const BlockScale& s, float w);
/// The value nibble `code` stands for, computed as dequantize_row_q4_* does.
float q4_value(QuantFormat format, const BlockScale& s, uint8_t code);
/// codes (32,) + scale -> one block (18 bytes for Q4_0, 20 for Q4_1) at dst.
void pack_q4_block(QuantFormat format, const BlockScale& s, const uint8_t* codes, uint8_t* dst);
/// Throws std::invalid_argument unless format is Q4_0 or Q4_1.
void require_q4(QuantFormat format, const char* who);

}  // namespace cpurich::compress
