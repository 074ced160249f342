// quant_matrix.cpp: whole matrices in the formats of quant_formats.h: NF4
// (its absmaxes are double-quantized across rows, so it is defined on a
// matrix, not a row), the byte sizes, quantize / dequantize of a (rows, cols)
// matrix row by row, and the checks file loaders run. The per-row block
// quantizers are in quant_formats.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/quant_formats.h"
#include "tensor/quant_formats_internal.h"

namespace cpurich {

using quant_detail::check_row_length;
using quant_detail::load_f16;

// ---- NF4 --------------------------------------------------------------------

uint8_t nf4_index(float v) {
  // The boundaries between neighbouring levels are their midpoints; the index
  // is how many boundaries lie at or below v.
  uint8_t q = 0;
  for (int i = 0; i < 15; ++i) {
    if (v >= 0.5f * (kNF4Levels[i] + kNF4Levels[i + 1])) q = static_cast<uint8_t>(i + 1);
  }
  return q;
}

// ---- matrices -----------------------------------------------------------------

int64_t quant_matrix_bytes(QuantFormat format, int64_t rows, int64_t cols) {
  const auto& info = quant_format_info(format);
  if (rows <= 0) throw std::invalid_argument(std::string(info.name) + ": no rows");
  if (format == QuantFormat::Int8) {
    check_row_length(cols, 1, "int8");
    return rows * (4 + cols);
  }
  check_row_length(cols, info.block, std::string(info.name).c_str());
  const int64_t blocks = rows * (cols / info.block);
  if (format != QuantFormat::NF4) return blocks * info.block_bytes;
  const int64_t groups = (blocks + kNF4AbsmaxGroup - 1) / kNF4AbsmaxGroup;
  return blocks * info.block_bytes + blocks + 4 * groups + 4;
}

int64_t QuantMatrix::row_bytes() const {
  switch (format) {
    case QuantFormat::Int8:
      return 4 + cols;
    case QuantFormat::NF4:
      return cols / 2;
    default:
      return cols / kQBlock * quant_format_info(format).block_bytes;
  }
}

float QuantMatrix::nf4_absmax(int64_t b) const {
  const int64_t blocks = rows * cols / kNF4Block;
  const uint8_t* codes = data.data() + rows * cols / 2;
  const uint8_t* scales = codes + blocks;
  const int64_t groups = (blocks + kNF4AbsmaxGroup - 1) / kNF4AbsmaxGroup;
  float scale = 0.0f;
  float offset = 0.0f;
  std::memcpy(&scale, scales + 4 * (b / kNF4AbsmaxGroup), 4);
  std::memcpy(&offset, scales + 4 * groups, 4);
  return offset + scale * static_cast<float>(static_cast<int8_t>(codes[b]));
}

namespace {

/// NF4 of a whole matrix: blocks of 64 -> nibbles + absmax, then the
/// absmaxes double-quantized.
//! [nf4_quantize]
void quantize_nf4(std::span<const float> w, QuantMatrix& q) {
  const int64_t blocks = q.rows * q.cols / kNF4Block;
  std::vector<float> absmax(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b) {
    float amax = 0.0f;
    for (int64_t j = 0; j < kNF4Block; ++j) amax = std::max(amax, std::fabs(w[b * kNF4Block + j]));
    absmax[b] = amax;
  }
  // Double quantization: c = absmax - mean, then int8 absmax per group of 256.
  double sum = 0.0;
  for (float a : absmax) sum += a;
  const float offset = static_cast<float>(sum / static_cast<double>(blocks));
  uint8_t* codes = q.data.data() + q.rows * q.cols / 2;
  uint8_t* scales = codes + blocks;
  const int64_t groups = (blocks + kNF4AbsmaxGroup - 1) / kNF4AbsmaxGroup;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t b0 = g * kNF4AbsmaxGroup;
    const int64_t b1 = std::min(blocks, b0 + kNF4AbsmaxGroup);
    float cmax = 0.0f;
    for (int64_t b = b0; b < b1; ++b) cmax = std::max(cmax, std::fabs(absmax[b] - offset));
    const float s = cmax / 127.0f;
    const float is = s != 0.0f ? 1.0f / s : 0.0f;
    std::memcpy(scales + 4 * g, &s, 4);
    for (int64_t b = b0; b < b1; ++b) {
      codes[b] = static_cast<uint8_t>(static_cast<int8_t>(std::round((absmax[b] - offset) * is)));
    }
  }
  std::memcpy(scales + 4 * groups, &offset, 4);
  // The nibbles are chosen against the absmax the reader will see (the
  // double-quantized one), so the stored codes and levels agree.
  for (int64_t b = 0; b < blocks; ++b) {
    const float a = q.nf4_absmax(b);
    const float ia = a > 0.0f ? 1.0f / a : 0.0f;
    uint8_t* out = q.data.data() + b * kNF4Block / 2;
    for (int64_t j = 0; j < kNF4Block; j += 2) {
      const float v0 = std::clamp(w[b * kNF4Block + j] * ia, -1.0f, 1.0f);
      const float v1 = std::clamp(w[b * kNF4Block + j + 1] * ia, -1.0f, 1.0f);
      out[j / 2] = static_cast<uint8_t>((nf4_index(v0) << 4) | nf4_index(v1));
    }
  }
}
//! [nf4_quantize]

void dequantize_nf4_row(const QuantMatrix& q, int64_t r, float* out) {
  const uint8_t* nib = q.row(r);
  const int64_t b0 = r * q.cols / kNF4Block;
  for (int64_t b = 0; b < q.cols / kNF4Block; ++b) {
    const float a = q.nf4_absmax(b0 + b);
    for (int64_t j = 0; j < kNF4Block; j += 2) {
      const uint8_t byte = nib[(b * kNF4Block + j) / 2];
      out[b * kNF4Block + j] = kNF4Levels[byte >> 4] * a;
      out[b * kNF4Block + j + 1] = kNF4Levels[byte & 0x0f] * a;
    }
  }
}

}  // namespace

QuantMatrix quantize_matrix(QuantFormat format, std::span<const float> w, int64_t rows,
                            int64_t cols) {
  QuantMatrix q{.format = format, .rows = rows, .cols = cols, .data = {}};
  q.data.resize(static_cast<size_t>(quant_matrix_bytes(format, rows, cols)));
  if (static_cast<int64_t>(w.size()) != rows * cols) {
    throw std::invalid_argument("quantize_matrix: " + std::to_string(w.size()) +
                                " weights for a (" + std::to_string(rows) + ", " +
                                std::to_string(cols) + ") matrix");
  }
  for (float v : w) {
    if (!std::isfinite(v)) throw std::invalid_argument("quantize_matrix: a weight is not finite");
  }
  if (format == QuantFormat::NF4) {
    quantize_nf4(w, q);
    return q;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = w.data() + r * cols;
    uint8_t* y = q.data.data() + r * q.row_bytes();
    switch (format) {
      case QuantFormat::Int8:
        quantize_row_int8(x, y, cols);
        break;
      case QuantFormat::Q8_0:
        quantize_row_q8_0_ref(x, y, cols);
        break;
      case QuantFormat::Q4_0:
        quantize_row_q4_0_ref(x, y, cols);
        break;
      case QuantFormat::Q4_1:
        quantize_row_q4_1_ref(x, y, cols);
        break;
      case QuantFormat::NF4:
        break;
    }
  }
  return q;
}

void dequantize_matrix_row(const QuantMatrix& q, int64_t r, std::span<float> out) {
  if (static_cast<int64_t>(out.size()) != q.cols || r < 0 || r >= q.rows) {
    throw std::invalid_argument("dequantize_matrix_row: row or output size out of range");
  }
  const uint8_t* y = q.row(r);
  switch (q.format) {
    case QuantFormat::Int8:
      dequantize_row_int8(y, out.data(), q.cols);
      break;
    case QuantFormat::Q8_0:
      dequantize_row_q8_0(y, out.data(), q.cols);
      break;
    case QuantFormat::Q4_0:
      dequantize_row_q4_0(y, out.data(), q.cols);
      break;
    case QuantFormat::Q4_1:
      dequantize_row_q4_1(y, out.data(), q.cols);
      break;
    case QuantFormat::NF4:
      dequantize_nf4_row(q, r, out.data());
      break;
  }
}

void dequantize_matrix(const QuantMatrix& q, std::span<float> w) {
  if (static_cast<int64_t>(w.size()) != q.rows * q.cols) {
    throw std::invalid_argument("dequantize_matrix: output has the wrong size");
  }
  for (int64_t r = 0; r < q.rows; ++r) dequantize_matrix_row(q, r, w.subspan(r * q.cols, q.cols));
}

void validate_quant_matrix(const QuantMatrix& q) {
  const auto& info = quant_format_info(q.format);
  const int64_t want = quant_matrix_bytes(q.format, q.rows, q.cols);
  if (static_cast<int64_t>(q.data.size()) != want) {
    throw std::invalid_argument(std::string(info.name) + " matrix (" + std::to_string(q.rows) +
                                ", " + std::to_string(q.cols) + ") needs " + std::to_string(want) +
                                " bytes, has " + std::to_string(q.data.size()));
  }
  auto bad = [&](const char* what) {
    throw std::invalid_argument(std::string(info.name) + " matrix has a non-finite " + what);
  };
  switch (q.format) {
    case QuantFormat::Int8:
      for (int64_t r = 0; r < q.rows; ++r) {
        float d = 0.0f;
        std::memcpy(&d, q.row(r), 4);
        if (!std::isfinite(d)) bad("row scale");
      }
      break;
    case QuantFormat::NF4:
      for (int64_t b = 0; b < q.rows * q.cols / kNF4Block; ++b) {
        if (!std::isfinite(q.nf4_absmax(b))) bad("block absmax");
      }
      break;
    default:
      for (int64_t off = 0; off < want; off += info.block_bytes) {
        if (!std::isfinite(load_f16(q.data.data() + off))) bad("block scale");
        if (q.format == QuantFormat::Q4_1 && !std::isfinite(load_f16(q.data.data() + off + 2))) {
          bad("block minimum");
        }
      }
  }
}

}  // namespace cpurich
