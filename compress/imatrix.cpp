// imatrix.cpp: the scale search of imatrix.h, one block of 32 at a time.
#include "compress/imatrix.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/half.h"

namespace cpurich::compress {

namespace {

constexpr int64_t B = kQBlock;

float f16_round(float v) {
  return f16_to_f32(f32_to_f16(v));
}

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

int64_t block_bytes(QuantFormat f) {
  return quant_format_info(f).block_bytes;
}

void dequantize_block(QuantFormat f, const uint8_t* y, float* x) {
  if (f == QuantFormat::Q8_0) dequantize_row_q8_0(y, x, B);
  if (f == QuantFormat::Q4_0) dequantize_row_q4_0(y, x, B);
  if (f == QuantFormat::Q4_1) dequantize_row_q4_1(y, x, B);
}

void quantize_block_ref(QuantFormat f, const float* x, uint8_t* y) {
  if (f == QuantFormat::Q8_0) quantize_row_q8_0_ref(x, y, B);
  if (f == QuantFormat::Q4_0) quantize_row_q4_0_ref(x, y, B);
  if (f == QuantFormat::Q4_1) quantize_row_q4_1_ref(x, y, B);
}

/// The weighted error of the block bytes y against x: what is stored is judged.
double block_error(QuantFormat f, const float* x, const double* imp, const uint8_t* y) {
  std::array<float, B> v{};
  dequantize_block(f, y, v.data());
  double e = 0.0;
  for (int64_t j = 0; j < B; ++j) {
    const double t = static_cast<double>(x[j]) - v[j];
    e += imp[j] * t * t;
  }
  return e;
}

/// Symmetric formats (q8_0: q in -128..127, q4_0: q - 8 in -8..7): the codes
/// for scale d, stored as the format stores them.
void encode_symmetric(QuantFormat f, const float* x, float d, uint8_t* y) {
  const float lo = f == QuantFormat::Q8_0 ? -128.0f : -8.0f;
  const float hi = f == QuantFormat::Q8_0 ? 127.0f : 7.0f;
  put_f16(y, d);
  std::array<int, B> q{};
  for (int64_t j = 0; j < B; ++j)
    q[j] = d != 0.0f ? static_cast<int>(std::clamp(std::nearbyint(x[j] / d), lo, hi)) : 0;
  if (f == QuantFormat::Q8_0) {
    for (int64_t j = 0; j < B; ++j) y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q[j]));
  } else {
    for (int64_t j = 0; j < B / 2; ++j)
      y[2 + j] = static_cast<uint8_t>((q[j] + 8) | ((q[j + 16] + 8) << 4));
  }
}

/// q4_1: codes 0..15 for (d, m).
void encode_q4_1(const float* x, float d, float m, uint8_t* y, std::array<int, B>& q) {
  put_f16(y, d);
  put_f16(y + 2, m);
  for (int64_t j = 0; j < B; ++j)
    q[j] = d > 0.0f ? static_cast<int>(std::clamp(std::nearbyint((x[j] - m) / d), 0.0f, 15.0f)) : 0;
  for (int64_t j = 0; j < B / 2; ++j) y[4 + j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
}

}  // namespace

//! [imatrix_block]
void quantize_block_weighted(QuantFormat f, const float* x, const double* imp, uint8_t* y) {
  const int64_t nb = block_bytes(f);
  std::vector<uint8_t> cand(static_cast<size_t>(nb));
  quantize_block_ref(f, x, y);  // ggml's choice: the candidate to beat
  double best = block_error(f, x, imp, y);
  const auto consider = [&] {
    const double e = block_error(f, x, imp, cand.data());
    if (e < best) {
      best = e;
      std::copy(cand.begin(), cand.end(), y);
    }
  };
  if (f == QuantFormat::Q4_1) {
    float min = x[0], max = x[0];
    for (int64_t j = 1; j < B; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    if (max == min) return;
    std::array<int, B> q{};
    for (int is = -9; is <= 9; ++is) {
      // Codes from a trial scale, then the (d, m) minimising
      // sum imp (x - d q - m)^2: the 2x2 normal equations.
      encode_q4_1(x, (max - min) / (15.0f + 0.1f * static_cast<float>(is)), min, cand.data(), q);
      double sw = 0, sq = 0, sqq = 0, sx = 0, sxq = 0;
      for (int64_t j = 0; j < B; ++j) {
        sw += imp[j];
        sq += imp[j] * q[j];
        sqq += imp[j] * q[j] * q[j];
        sx += imp[j] * x[j];
        sxq += imp[j] * x[j] * q[j];
      }
      const double det = sw * sqq - sq * sq;
      if (det <= 0.0) continue;
      const double d = (sw * sxq - sq * sx) / det;
      const double m = (sqq * sx - sq * sxq) / det;
      if (!(d > 0.0)) continue;
      encode_q4_1(x, f16_round(static_cast<float>(d)), f16_round(static_cast<float>(m)),
                  cand.data(), q);
      consider();
    }
    return;
  }
  // q8_0 / q4_0: d = signed max / -nmax (q4_0) or amax / nmax (q8_0), perturbed.
  float amax = 0.0f, max = 0.0f;
  for (int64_t j = 0; j < B; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  if (amax == 0.0f) return;
  const float nmax = f == QuantFormat::Q8_0 ? 127.0f : 8.0f;
  const float ref = f == QuantFormat::Q8_0 ? amax : -max;
  for (int is = -9; is <= 9; ++is) {
    const float d0 = ref / (nmax + 0.1f * static_cast<float>(is));
    // Weighted least squares for the codes q of d0: d = sum imp x q / sum imp q^2.
    double num = 0.0, den = 0.0;
    const float lo = f == QuantFormat::Q8_0 ? -128.0f : -8.0f;
    const float hi = f == QuantFormat::Q8_0 ? 127.0f : 7.0f;
    for (int64_t j = 0; j < B; ++j) {
      const double q = std::clamp(std::nearbyint(x[j] / d0), lo, hi);
      num += imp[j] * x[j] * q;
      den += imp[j] * q * q;
    }
    encode_symmetric(f, x, f16_round(d0), cand.data());
    consider();
    if (den > 0.0) {
      encode_symmetric(f, x, f16_round(static_cast<float>(num / den)), cand.data());
      consider();
    }
  }
}
//! [imatrix_block]

QuantMatrix imatrix_quantize(QuantFormat format, std::span<const float> w, int64_t out, int64_t in,
                             std::span<const double> importance) {
  if (format != QuantFormat::Q8_0 && format != QuantFormat::Q4_0 && format != QuantFormat::Q4_1)
    throw std::invalid_argument("imatrix: format must be q8_0, q4_0 or q4_1, not " +
                                std::string(quant_format_info(format).name));
  if (out < 1 || in < 1 || in % B != 0 || static_cast<int64_t>(w.size()) != out * in ||
      static_cast<int64_t>(importance.size()) != in)
    throw std::invalid_argument("imatrix: need W (out, in), in a multiple of 32, importance (in,)");
  for (double v : importance)
    if (!(v >= 0.0) || !std::isfinite(v))
      throw std::invalid_argument("imatrix: importances must be finite and >= 0");
  for (float v : w)
    if (!std::isfinite(v)) throw std::invalid_argument("imatrix: non-finite weight");
  QuantMatrix q{.format = format, .rows = out, .cols = in};
  q.data.resize(static_cast<size_t>(quant_matrix_bytes(format, out, in)));
  const int64_t nb = block_bytes(format);
  for (int64_t r = 0; r < out; ++r)
    for (int64_t b = 0; b < in / B; ++b)
      quantize_block_weighted(format, w.data() + r * in + b * B, importance.data() + b * B,
                              q.data.data() + r * q.row_bytes() + b * nb);
  return q;
}

double weighted_error(const QuantMatrix& q, std::span<const float> w,
                      std::span<const double> importance) {
  std::vector<float> row(static_cast<size_t>(q.cols));
  double e = 0.0;
  for (int64_t r = 0; r < q.rows; ++r) {
    dequantize_matrix_row(q, r, row);
    for (int64_t c = 0; c < q.cols; ++c) {
      const double t = static_cast<double>(w[r * q.cols + c]) - row[c];
      e += importance[c] * t * t;
    }
  }
  return e;
}

}  // namespace cpurich::compress
