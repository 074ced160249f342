// test_quant_formats.cpp: the quantized formats of tensor/quant_formats.h.
// ggml's blocks are checked byte by byte against blocks computed by hand from
// the rules ggml's reference quantizers follow (including ties, an all-zero
// block and a block whose largest magnitude is negative); every format is
// checked for its round-trip error bound on normal and heavy-tailed weights.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/half.h"
#include "tensor/quant_formats.h"

using namespace cpurich;

namespace {

uint16_t f16_bits(const uint8_t* p) {
  uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return h;
}

std::vector<float> random_weights(int64_t n, bool heavy_tailed, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::student_t_distribution<float> student(2.0f);  // infinite variance: outliers
  std::vector<float> w(static_cast<size_t>(n));
  for (auto& v : w) v = heavy_tailed ? 0.02f * student(gen) : normal(gen);
  return w;
}

}  // namespace

TEST_CASE("q8_0 block by hand: scale max|x|/127, round half away from zero") {
  std::vector<float> x(32, 0.0f);
  x[0] = -2.54f;  // largest magnitude, negative: d = 2.54 / 127 = 0.02
  x[1] = 0.03f;   // 1.5 d: a tie (up to float rounding of d), rounds away from 0
  x[2] = -0.01f;  // -0.5 d
  x[3] = 1.0f;    // 50 d
  std::vector<uint8_t> y(34);
  quantize_row_q8_0_ref(x.data(), y.data(), 32);
  const float d = 2.54f / 127.0f;
  CHECK(f16_bits(y.data()) == f32_to_f16(d));
  const float id = 1.0f / d;
  CHECK(static_cast<int8_t>(y[2]) == -127);
  CHECK(static_cast<int8_t>(y[3]) == static_cast<int8_t>(std::round(0.03f * id)));
  CHECK(static_cast<int8_t>(y[4]) == static_cast<int8_t>(std::round(-0.01f * id)));
  CHECK(static_cast<int8_t>(y[5]) == 50);
  for (int j = 6; j < 34; ++j) CHECK(y[j] == 0);
}

TEST_CASE("q4_0 block by hand: the signed max maps to nibble 0, low nibble j, high j+16") {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.1f * static_cast<float>(j - 8);  // -0.8 .. 2.3
  x[31] = -3.2f;  // the largest |x| is negative: d = -3.2 / -8 = 0.4
  std::vector<uint8_t> y(18);
  quantize_row_q4_0_ref(x.data(), y.data(), 32);
  const float d = 0.4f;
  CHECK(f16_bits(y.data()) == f32_to_f16(d));
  const float id = 1.0f / d;
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
    const int hi = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
    INFO("byte " << j);
    CHECK(y[2 + j] == (lo | (hi << 4)));
  }
  CHECK((y[2 + 15] >> 4) == 0);  // x[31] = -3.2 = d * (0 - 8)
}

TEST_CASE("q4_0 with a positive max: nibble 0 is +max and the far end clips at 15") {
  std::vector<float> x(32, 0.0f);
  x[0] = 8.0f;   // d = -1
  x[1] = -8.0f;  // -8 * -1 + 8.5 = 16.5 -> 16 -> clipped to 15
  x[2] = 0.5f;   // -0.5 + 8.5 = 8.0 -> 8
  std::vector<uint8_t> y(18);
  quantize_row_q4_0_ref(x.data(), y.data(), 32);
  CHECK(f16_bits(y.data()) == f32_to_f16(-1.0f));
  CHECK((y[2] & 0x0f) == 0);
  CHECK((y[3] & 0x0f) == 15);
  CHECK((y[4] & 0x0f) == 8);
  CHECK((y[2] >> 4) == 8);  // x[16] = 0 -> 8
}

TEST_CASE("q4_1 block by hand: d = (max - min) / 15, m = min") {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = -1.0f + 0.1f * static_cast<float>(j);
  std::vector<uint8_t> y(20);
  quantize_row_q4_1_ref(x.data(), y.data(), 32);
  const float d = (x[31] - (-1.0f)) / 15.0f;
  CHECK(f16_bits(y.data()) == f32_to_f16(d));
  CHECK(f16_bits(y.data() + 2) == f32_to_f16(-1.0f));
  const float id = 1.0f / d;
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, static_cast<int>((x[j] + 1.0f) * id + 0.5f));
    const int hi = std::min(15, static_cast<int>((x[j + 16] + 1.0f) * id + 0.5f));
    CHECK(y[4 + j] == (lo | (hi << 4)));
  }
  CHECK((y[4] & 0x0f) == 0);
  CHECK((y[4 + 15] >> 4) == 15);
}

TEST_CASE("all-zero blocks quantize to zero scales and decode to zeros") {
  std::vector<float> x(64, 0.0f);
  std::vector<float> back(64, 1.0f);
  for (const auto& info : quant_formats()) {
    const auto q = quantize_matrix(info.format, x, 1, 64);
    dequantize_matrix(q, back);
    INFO(info.name);
    for (float v : back) CHECK(v == 0.0f);
  }
  std::vector<uint8_t> y(18);
  quantize_row_q4_0_ref(x.data(), y.data(), 32);
  // max = 0, d = 0 / -8 = -0: ggml writes F16 negative zero.
  CHECK(f16_bits(y.data()) == 0x8000);
  for (int j = 2; j < 18; ++j) CHECK(y[j] == 0x88);  // q = 8 stands for 0
}

TEST_CASE("format table: names, blocks, bytes and bits per weight") {
  CHECK(parse_quant_format("q4_0") == QuantFormat::Q4_0);
  CHECK_THROWS_WITH(parse_quant_format("q3_k"), Catch::Contains("one of: int8, q8_0"));
  CHECK(quant_matrix_bytes(QuantFormat::Q8_0, 2, 64) == 2 * 2 * 34);
  CHECK(quant_matrix_bytes(QuantFormat::Q4_0, 3, 32) == 3 * 18);
  CHECK(quant_matrix_bytes(QuantFormat::Q4_1, 1, 96) == 3 * 20);
  CHECK(quant_matrix_bytes(QuantFormat::Int8, 2, 5) == 2 * 9);
  // NF4 of 768 x 768: 4 bits, an 8-bit code per 64 and an f32 per 16384: 4.127 bits.
  const auto bytes = quant_matrix_bytes(QuantFormat::NF4, 768, 768);
  CHECK(8.0 * static_cast<double>(bytes) / (768.0 * 768.0) == Approx(4.127).epsilon(1e-3));
  CHECK_THROWS_WITH(quant_matrix_bytes(QuantFormat::Q4_0, 2, 48),
                    Catch::Contains("not a positive multiple of 32"));
}

TEST_CASE("NF4 levels and nearest-level rounding") {
  CHECK(kNF4Levels[0] == -1.0f);
  CHECK(kNF4Levels[7] == 0.0f);
  CHECK(kNF4Levels[15] == 1.0f);
  for (int i = 0; i < 16; ++i) CHECK(nf4_index(kNF4Levels[i]) == i);
  for (int i = 0; i < 15; ++i) {
    const float mid = 0.5f * (kNF4Levels[i] + kNF4Levels[i + 1]);
    CHECK(nf4_index(std::nextafter(mid, -2.0f)) == i);
    CHECK(nf4_index(mid) == i + 1);
  }
}

TEST_CASE("round trip within each format's bound, normal and heavy-tailed weights") {
  const int64_t rows = 24;
  const int64_t cols = 256;
  for (bool heavy : {false, true}) {
    const auto w = random_weights(rows * cols, heavy, heavy ? 7u : 3u);
    for (const auto& info : quant_formats()) {
      const auto q = quantize_matrix(info.format, w, rows, cols);
      validate_quant_matrix(q);
      std::vector<float> back(w.size());
      dequantize_matrix(q, back);
      const int64_t block = info.block == 0 ? cols : info.block;
      INFO(info.name << (heavy ? " heavy-tailed" : " normal"));
      for (int64_t b = 0; b < rows * cols / block; ++b) {
        float amax = 0.0f;
        float lo = 1e30f;
        float hi = -1e30f;
        for (int64_t j = 0; j < block; ++j) {
          amax = std::max(amax, std::fabs(w[b * block + j]));
          lo = std::min(lo, w[b * block + j]);
          hi = std::max(hi, w[b * block + j]);
        }
        // Half a step of the grid, plus the F16 rounding of the scale (2^-11
        // relative, times the largest level) and float slack.
        float bound = 0.0f;
        switch (info.format) {
          case QuantFormat::Int8:
            bound = amax / 127.0f * 0.5f + amax * 1e-6f;
            break;
          case QuantFormat::Q8_0:
            bound = amax / 127.0f * 0.5f + amax * 1e-3f;
            break;
          // q4_0's grid reaches -8 d on the outlier's side but only +7 d on
          // the other: a value there may be clipped by a whole step d = amax / 8.
          case QuantFormat::Q4_0:
            bound = amax / 8.0f + amax * 1e-3f;
            break;
          case QuantFormat::Q4_1:
            bound = (hi - lo) / 15.0f * 0.5f + (hi - lo) * 2e-3f;
            break;
          // NF4's widest gap is between -1 and -0.696: half of it times the
          // stored absmax, plus however far double quantization moved that
          // absmax from the true one (values beyond it are clipped).
          case QuantFormat::NF4: {
            const float stored = q.nf4_absmax(b);
            bound = 0.153f * std::max(stored, amax) + std::fabs(stored - amax) + 1e-6f;
            break;
          }
        }
        for (int64_t j = 0; j < block; ++j) {
          REQUIRE(std::fabs(back[b * block + j] - w[b * block + j]) <= bound);
        }
      }
      double err = 0.0;
      double norm = 0.0;
      for (size_t i = 0; i < w.size(); ++i) {
        err += (back[i] - w[i]) * (back[i] - w[i]);
        norm += w[i] * w[i];
      }
      CHECK(std::sqrt(err / norm) < (info.bits_per_weight > 8 ? 0.02 : 0.2));
    }
  }
}

TEST_CASE("malformed quantized matrices are refused in one line") {
  auto q = quantize_matrix(QuantFormat::Q4_0, random_weights(64, false, 1), 2, 32);
  q.data.pop_back();
  CHECK_THROWS_WITH(validate_quant_matrix(q), Catch::Contains("needs 36 bytes, has 35"));
  q.data.push_back(0);
  const uint16_t nan = 0x7e00;
  std::memcpy(q.data.data() + 18, &nan, 2);
  CHECK_THROWS_WITH(validate_quant_matrix(q), Catch::Contains("non-finite block scale"));
  std::vector<float> inf_weights(32, 1.0f);
  inf_weights[5] = INFINITY;
  CHECK_THROWS_WITH(quantize_matrix(QuantFormat::Q8_0, inf_weights, 1, 32),
                    Catch::Contains("not finite"));
}
