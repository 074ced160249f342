// quant_matvec.cpp: the reference, the activation preparation, the portable
// fast path and the run-time choice of path (see quant_matvec.h).
//
// quant_matmul_naive is the definition: dequantize one row of W, dot it with
// x in plain f32. The portable path is the fast twin's recipe written as plain
// loops over 8 int32 lanes (16 float lanes for nf4); the AVX2 and AVX-512
// files compute the same lanes with SIMD instructions. What the fast twin
// changes against the naive one: W is never expanded (a block is decoded,
// used for up to 4 activation rows and dropped) and, for the integer
// formats, the activations are rounded to int8 blocks so the inner products
// are exact integers.
#include "tensor/quant_matvec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/cpu_features.h"
#include "tensor/half.h"

namespace cpurich {

namespace {

bool integer_format(QuantFormat f) {
  return f != QuantFormat::NF4;
}

// int8 rows whose length is not a multiple of 32 cannot use activation
// blocks: they take the f32 path (x as is) on every ISA.
bool int8_float_path(const QuantMatrix& w) {
  return w.format == QuantFormat::Int8 && w.cols % kQBlock != 0;
}

float load_f16(const uint8_t* p) {
  uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Folds 8 lanes 4-2-1: s[l] += s[l+4], s[l] += s[l+2], s[0] += s[1].
float fold8(float* s) {
  for (int l = 0; l < 4; ++l) s[l] += s[l + 4];
  for (int l = 0; l < 2; ++l) s[l] += s[l + 2];
  return s[0] + s[1];
}

float fold16(float* s) {
  for (int l = 0; l < 8; ++l) s[l] += s[l + 8];
  return fold8(s);
}

// The 32 signed weights of block b of an integer-format row, and its scales.
struct IntBlock {
  int8_t q[kQBlock];
  float d = 0.0f;  // weight scale (1 for int8: its row scale is applied at the end)
  float m = 0.0f;  // q4_1 offset
};

void decode_block(const QuantMatrix& w, const uint8_t* row, int64_t b, IntBlock& out) {
  switch (w.format) {
    case QuantFormat::Int8:
      for (int j = 0; j < kQBlock; ++j) out.q[j] = static_cast<int8_t>(row[4 + b * kQBlock + j]);
      out.d = 1.0f;
      break;
    case QuantFormat::Q8_0: {
      const uint8_t* p = row + b * 34;
      out.d = load_f16(p);
      for (int j = 0; j < kQBlock; ++j) out.q[j] = static_cast<int8_t>(p[2 + j]);
      break;
    }
    case QuantFormat::Q4_0: {
      const uint8_t* p = row + b * 18;
      out.d = load_f16(p);
      for (int j = 0; j < 16; ++j) {
        out.q[j] = static_cast<int8_t>((p[2 + j] & 0x0f) - 8);
        out.q[j + 16] = static_cast<int8_t>((p[2 + j] >> 4) - 8);
      }
      break;
    }
    case QuantFormat::Q4_1: {
      const uint8_t* p = row + b * 20;
      out.d = load_f16(p);
      out.m = load_f16(p + 2);
      for (int j = 0; j < 16; ++j) {
        out.q[j] = static_cast<int8_t>(p[4 + j] & 0x0f);
        out.q[j + 16] = static_cast<int8_t>(p[4 + j] >> 4);
      }
      break;
    }
    case QuantFormat::NF4:
      break;
  }
}

// y[t, r] for one row r and activation rows [t0, t0 + nt), integer formats.
void int_row_portable(const QuantMatrix& w, const QuantActivations& a, int64_t r, int64_t t0,
                      int64_t nt, float* y, int64_t ldy) {
  const int64_t nb = w.cols / kQBlock;
  const uint8_t* row = w.row(r);
  float acc[4][2][8] = {};  // [row][block parity][lane]
  float sm[4][2] = {};      // q4_1's offset terms, even and odd blocks
  IntBlock blk;
  for (int64_t b = 0; b < nb; ++b) {
    decode_block(w, row, b, blk);
    for (int64_t i = 0; i < nt; ++i) {
      const int64_t t = t0 + i;
      const int8_t* xq = a.q.data() + t * a.cols + b * kQBlock;
      const float s = blk.d * a.d[static_cast<size_t>(t * nb + b)];
      for (int l = 0; l < 8; ++l) {
        int32_t lane = 0;
        for (int k = 0; k < 4; ++k) lane += int32_t{blk.q[4 * l + k]} * int32_t{xq[4 * l + k]};
        acc[i][b % 2][l] = std::fma(s, static_cast<float>(lane), acc[i][b % 2][l]);
      }
      if (w.format == QuantFormat::Q4_1)
        sm[i][b % 2] += blk.m * a.s[static_cast<size_t>(t * nb + b)];
    }
  }
  float dw = 1.0f;
  if (w.format == QuantFormat::Int8) std::memcpy(&dw, row, 4);
  for (int64_t i = 0; i < nt; ++i) {
    float lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = acc[i][0][l] + acc[i][1][l];
    float v = fold8(lanes);
    if (w.format == QuantFormat::Q4_1) v += sm[i][0] + sm[i][1];
    if (w.format == QuantFormat::Int8) v *= dw;
    y[(t0 + i) * ldy + r] = v;
  }
}

// y[t, r] for nf4: per block of 64, 16 float lanes (lane i of byte group g
// holds elements 32g + 2i and 32g + 2i + 1), times the block's absmax.
void nf4_row_portable(const QuantMatrix& w, const detail::NF4Scales& sc, const QuantActivations& a,
                      int64_t r, int64_t t0, int64_t nt, float* y, int64_t ldy) {
  const int64_t nb = w.cols / kNF4Block;
  const uint8_t* row = w.row(r);
  float acc[4][16] = {};
  for (int64_t b = 0; b < nb; ++b) {
    const float amax = sc.absmax(r * nb + b);
    float hi[2][16], lo[2][16];
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 16; ++i) {
        const uint8_t byte = row[b * 32 + g * 16 + i];
        hi[g][i] = kNF4Levels[byte >> 4];
        lo[g][i] = kNF4Levels[byte & 0x0f];
      }
    for (int64_t k = 0; k < nt; ++k) {
      const float* xp = a.xp.data() + (t0 + k) * a.cols + b * kNF4Block;
      float bacc[16];
      for (int i = 0; i < 16; ++i) {
        bacc[i] = hi[0][i] * xp[i];
        bacc[i] = std::fma(lo[0][i], xp[16 + i], bacc[i]);
        bacc[i] = std::fma(hi[1][i], xp[32 + i], bacc[i]);
        bacc[i] = std::fma(lo[1][i], xp[48 + i], bacc[i]);
      }
      for (int i = 0; i < 16; ++i) acc[k][i] = std::fma(bacc[i], amax, acc[k][i]);
    }
  }
  for (int64_t k = 0; k < nt; ++k) y[(t0 + k) * ldy + r] = fold16(acc[k]);
}

// int8 with cols % 32 != 0: y = d_w * sum_c q_c x_c in f32, c in order.
void int8_float_rows(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                     int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r);
    float dw = 0.0f;
    std::memcpy(&dw, row, 4);
    for (int64_t t = 0; t < a.rows; ++t) {
      const float* x = a.xp.data() + t * a.cols;
      float acc = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c)
        acc += static_cast<float>(static_cast<int8_t>(row[4 + c])) * x[c];
      y[t * ldy + r] = acc * dw;
    }
  }
}

void portable_rows(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                   int64_t r0, int64_t r1) {
  const detail::NF4Scales sc =
      w.format == QuantFormat::NF4 ? detail::nf4_scales(w) : detail::NF4Scales{};
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t0 = 0; t0 < a.rows; t0 += 4) {
      const int64_t nt = std::min<int64_t>(4, a.rows - t0);
      if (w.format == QuantFormat::NF4)
        nf4_row_portable(w, sc, a, r, t0, nt, y, ldy);
      else
        int_row_portable(w, a, r, t0, nt, y, ldy);
    }
}

}  // namespace

namespace detail {
NF4Scales nf4_scales(const QuantMatrix& w) {
  const int64_t blocks = w.rows * w.cols / kNF4Block;
  const int64_t groups = (blocks + kNF4AbsmaxGroup - 1) / kNF4AbsmaxGroup;
  const uint8_t* codes = w.data.data() + w.rows * w.cols / 2;
  NF4Scales s{.codes = codes, .scales = codes + blocks, .offset = 0.0f};
  std::memcpy(&s.offset, codes + blocks + 4 * groups, 4);
  return s;
}
}  // namespace detail

bool quant_path_supported(QuantPath path) {
  switch (path) {
    case QuantPath::Portable:
      return true;
    case QuantPath::Avx2:
      return cpu_has_avx2() && cpu_has_f16c();
    case QuantPath::Avx512Vnni:
      return cpu_has_avx512() && cpu_has_avx512_vnni();
  }
  return false;
}

QuantPath quant_best_path() {
  static const QuantPath best = quant_path_supported(QuantPath::Avx512Vnni) ? QuantPath::Avx512Vnni
                                : quant_path_supported(QuantPath::Avx2)     ? QuantPath::Avx2
                                                                            : QuantPath::Portable;
  return best;
}

const char* quant_path_name(QuantPath path) {
  switch (path) {
    case QuantPath::Portable:
      return "portable";
    case QuantPath::Avx2:
      return "avx2";
    case QuantPath::Avx512Vnni:
      return "avx512_vnni";
  }
  return "?";
}

void quant_activations_resize(QuantFormat format, int64_t T, int64_t cols, QuantActivations& a) {
  a.format = format;
  a.rows = T;
  a.cols = cols;
  const auto n = static_cast<size_t>(T * cols);
  const bool blocks = integer_format(format) && cols % kQBlock == 0;
  if (blocks) {
    if (a.q.size() < n) a.q.resize(n);
    const auto nb = static_cast<size_t>(T * (cols / kQBlock));
    if (a.d.size() < nb) a.d.resize(nb);
    if (a.s.size() < nb) a.s.resize(nb);
  } else if (a.xp.size() < n) {
    a.xp.resize(n);
  }
}

void quantize_activations(const float* x, int64_t ldx, int64_t t0, int64_t t1,
                          QuantActivations& a) {
  const int64_t C = a.cols;
  if (a.format == QuantFormat::NF4) {
    if (C % kNF4Block != 0) throw std::invalid_argument("quantize_activations: cols % 64 != 0");
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t g = 0; g < C; g += 32)
        for (int64_t i = 0; i < 16; ++i) {
          a.xp[static_cast<size_t>(t * C + g + i)] = x[t * ldx + g + 2 * i];
          a.xp[static_cast<size_t>(t * C + g + 16 + i)] = x[t * ldx + g + 2 * i + 1];
        }
    return;
  }
  if (C % kQBlock != 0) {  // int8 rows of odd length: x as is
    for (int64_t t = t0; t < t1; ++t) std::copy(x + t * ldx, x + t * ldx + C, a.xp.begin() + t * C);
    return;
  }
  const int64_t nb = C / kQBlock;
  for (int64_t t = t0; t < t1; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + t * ldx + b * kQBlock;
      float amax = 0.0f;
      for (int j = 0; j < kQBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      int8_t* q = a.q.data() + t * C + b * kQBlock;
      int32_t sum = 0;
      for (int j = 0; j < kQBlock; ++j) {
        // Round to nearest-even by adding and removing 1.5 * 2^23 (exact
        // for |v| <= 127; std::nearbyint is a library call on baseline x86-64).
        const float v = xb[j] * id;
        q[j] = static_cast<int8_t>((v + 12582912.0f) - 12582912.0f);
        sum += q[j];
      }
      a.d[static_cast<size_t>(t * nb + b)] = d;
      a.s[static_cast<size_t>(t * nb + b)] = d * static_cast<float>(sum);
    }
}

void quant_matmul_naive(const QuantMatrix& w, const float* x, int64_t ldx, int64_t T, float* y,
                        int64_t ldy) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_matrix_row(w, r, row);
    for (int64_t t = 0; t < T; ++t) {
      float acc = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c) acc += row[static_cast<size_t>(c)] * x[t * ldx + c];
      y[t * ldy + r] = acc;
    }
  }
}

void quant_matmul_rows(const QuantMatrix& w, const QuantActivations& a, float* y, int64_t ldy,
                       int64_t r0, int64_t r1, QuantPath path) {
  if (a.format != w.format || a.cols != w.cols)
    throw std::invalid_argument("quant_matmul_rows: activations prepared for another matrix");
  if (r0 < 0 || r1 > w.rows || r0 >= r1) return;
  if (int8_float_path(w)) return int8_float_rows(w, a, y, ldy, r0, r1);
#if defined(__x86_64__)
  if (path == QuantPath::Avx512Vnni && quant_path_supported(path))
    return detail::quant_rows_avx512(w, a, y, ldy, r0, r1);
  if (path == QuantPath::Avx2 && quant_path_supported(path))
    return detail::quant_rows_avx2(w, a, y, ldy, r0, r1);
#endif
  if (path != QuantPath::Portable && !quant_path_supported(path))
    throw std::invalid_argument(std::string("quant_matmul_rows: this CPU cannot run path ") +
                                quant_path_name(path));
  portable_rows(w, a, y, ldy, r0, r1);
}

}  // namespace cpurich
