// quant_formats.h: the quantized weight formats, defined once for the whole
// project (post-training quantization, QLoRA's frozen base, GGUF export).
//
// What it teaches: a 4-bit weight is a small integer q and a scale shared by a
// block of neighbours,   w ~ d * (q - zero)   (or d * level[q] for NF4). The
// block runs along the INPUT dimension of each output row (the direction of
// the dot product y[n] = sum_c W[n,c] x[c]), as in ggml, so a kernel decodes
// one block, multiplies it by 32 or 64 activations and moves on. Smaller
// blocks follow the local range of the weights more closely (an outlier only
// spoils its own block) at the price of more scale bytes per weight.
//
//   format  block  bytes/block  layout of one block                 bits/weight
//   int8    row    4 + k        f32 scale, k x int8 (whole row)     8 + 32/k
//   q8_0    32     34           f16 d, 32 x int8                    8.5
//   q4_0    32     18           f16 d, 16 bytes of nibbles          4.5
//   q4_1    32     20           f16 d, f16 m, 16 bytes of nibbles   5.0
//   nf4     64     32 (+1 +~0)  nibbles; absmax double-quantized    4.127
//
// q8_0, q4_0 and q4_1 are byte-identical to ggml's reference quantizers
// (quantize_row_*_ref): in a q4 block, byte j holds element j in its low
// nibble and element j+16 in its high nibble; the scales are F16 rounded to
// nearest-even. nf4 is QLoRA's NormalFloat: 16 levels at quantiles of a normal
// distribution scaled to [-1, 1], one absmax per 64 weights, two weights per
// byte with the FIRST in the high nibble (bitsandbytes' order), and the
// absmaxes themselves quantized ("double quantization"): minus their mean,
// to int8 with one f32 scale per 256 blocks.
//
// Everything here is the plain reference (one loop per block); the kernels
// that compute straight from these bytes live in tensor/quant_matvec.h.
//
// Pipeline position: trained F32 weights -> [quantize] -> packed bytes ->
// quantized kernels / model files / GGUF.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cpurich {

enum class QuantFormat { Int8, Q8_0, Q4_0, Q4_1, NF4 };

/// What a format is, for tables and file metadata.
struct QuantFormatInfo {
  QuantFormat format;
  std::string_view name;   ///< "q4_0": the CLI and file-metadata spelling
  int64_t block;           ///< weights per block along a row (0: the whole row)
  int64_t block_bytes;     ///< bytes of one block (0 for int8: 4 + k per row)
  double bits_per_weight;  ///< for a long row (nf4 counts its absmax codes)
};

/// The table above, one entry per format.
std::span<const QuantFormatInfo> quant_formats();
const QuantFormatInfo& quant_format_info(QuantFormat format);
/// "int8", "q8_0", "q4_0", "q4_1" or "nf4"; throws std::invalid_argument
/// listing the valid names otherwise.
QuantFormat parse_quant_format(std::string_view name);

// ---- ggml's blocks of 32, one row (k,) at a time (k % 32 == 0) ----------------

inline constexpr int64_t kQBlock = 32;  ///< QK8_0 = QK4_0 = QK4_1 in ggml

/// x (k,) -> y (k/32 * 34 bytes): d = max|x| / 127, q = round(x / d).
void quantize_row_q8_0_ref(const float* x, uint8_t* y, int64_t k);
void dequantize_row_q8_0(const uint8_t* y, float* x, int64_t k);
/// x (k,) -> y (k/32 * 18 bytes): m = the element of largest |x| (sign kept),
/// d = m / -8, q = min(15, trunc(x / d + 8.5)), so x ~ d * (q - 8).
void quantize_row_q4_0_ref(const float* x, uint8_t* y, int64_t k);
void dequantize_row_q4_0(const uint8_t* y, float* x, int64_t k);
/// x (k,) -> y (k/32 * 20 bytes): d = (max - min) / 15,
/// q = min(15, trunc((x - min) / d + 0.5)), so x ~ d * q + min.
void quantize_row_q4_1_ref(const float* x, uint8_t* y, int64_t k);
void dequantize_row_q4_1(const uint8_t* y, float* x, int64_t k);
/// x (k,) -> y (4 + k bytes): f32 scale d = max|x| / 127, then q = round(x / d).
void quantize_row_int8(const float* x, uint8_t* y, int64_t k);
void dequantize_row_int8(const uint8_t* y, float* x, int64_t k);

// ---- NF4 --------------------------------------------------------------------

inline constexpr int64_t kNF4Block = 64;         ///< weights per absmax
inline constexpr int64_t kNF4AbsmaxGroup = 256;  ///< absmaxes per f32 scale
/// The 16 NormalFloat levels of QLoRA (bitsandbytes' table, ascending; level 7 is 0).
inline constexpr std::array<float, 16> kNF4Levels = {-1.0f,
                                                     -0.6961928009986877f,
                                                     -0.5250730514526123f,
                                                     -0.39491748809814453f,
                                                     -0.28444138169288635f,
                                                     -0.18477343022823334f,
                                                     -0.09105003625154495f,
                                                     0.0f,
                                                     0.07958029955625534f,
                                                     0.16093020141124725f,
                                                     0.24611230194568634f,
                                                     0.33791524171829224f,
                                                     0.44070982933044434f,
                                                     0.5626170039176941f,
                                                     0.7229568362236023f,
                                                     1.0f};
/// The level index nearest to v in [-1, 1] (ties go to the upper level).
uint8_t nf4_index(float v);

// ---- a whole matrix -----------------------------------------------------------

/// A weight matrix W (rows, cols) = (out, in) quantized row by row, blocks
/// along cols. For the row formats `data` is rows * row_bytes() bytes, row r
/// at r * row_bytes(). For nf4 it is, in order:
///   nibbles     rows * cols / 2 bytes, row-major (row r at r * cols / 2);
///   codes       one int8 per block of 64 (rows * cols / 64 of them);
///   scales      one f32 per group of 256 codes;
///   offset      one f32, the mean absmax:  absmax[b] = offset + scales[b/256] * codes[b].
struct QuantMatrix {
  QuantFormat format = QuantFormat::Q8_0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> data;

  /// Bytes of one row's blocks (nf4: its nibbles only).
  int64_t row_bytes() const;
  const uint8_t* row(int64_t r) const { return data.data() + r * row_bytes(); }
  /// nf4 only: the absmax of block b (row r's blocks are r*cols/64 ...).
  float nf4_absmax(int64_t b) const;
  double bits_per_weight() const { return 8.0 * static_cast<double>(data.size()) / (rows * cols); }
};

/// Bytes `data` must have for this format and shape; throws
/// std::invalid_argument when cols is not a multiple of the block.
int64_t quant_matrix_bytes(QuantFormat format, int64_t rows, int64_t cols);

/// w (rows, cols) row-major -> its quantized form. Throws std::invalid_argument
/// on a non-finite weight or cols not a multiple of the format's block.
QuantMatrix quantize_matrix(QuantFormat format, std::span<const float> w, int64_t rows,
                            int64_t cols);
/// The inverse: w (rows, cols) = the values the blocks stand for.
void dequantize_matrix(const QuantMatrix& q, std::span<float> w);
/// Row r of dequantize_matrix (cols,), without decoding the rest.
void dequantize_matrix_row(const QuantMatrix& q, int64_t r, std::span<float> out);
/// Throws std::invalid_argument (one line) when data's size does not match
/// the format and shape, or a scale is not finite: used by file loaders.
void validate_quant_matrix(const QuantMatrix& q);

}  // namespace cpurich
