// half_float_test.cpp: F16 and BF16 widening is exact for all 65536 bit
// patterns of each format, checked against the textbook formula
//     value = (-1)^s * 2^(e - bias) * (1 + m / 2^mbits)     (normal)
//     value = (-1)^s * 2^(1 - bias) * (m / 2^mbits)          (subnormal, e = 0)
// evaluated in double (where every such value is exact), and against the
// compiler's own _Float16 conversion when it has one.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "nn/safetensors.h"

namespace {

/// The formula above for a format with `ebits` exponent and `mbits` mantissa bits.
double reference(std::uint16_t bits, int ebits, int mbits) {
  const double sign = (bits >> 15) != 0 ? -1.0 : 1.0;
  const int emax = (1 << ebits) - 1;
  const int bias = emax / 2;
  const int e = (bits >> mbits) & emax;
  const int m = bits & ((1 << mbits) - 1);
  if (e == emax) return m == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  if (e == 0) return sign * std::ldexp(m, 1 - bias - mbits);
  return sign * std::ldexp((1 << mbits) + m, e - bias - mbits);
}

/// Exact equality including the sign of zero; for NaN: NaN, same sign and the
/// payload's bits kept in the top of the F32 mantissa.
void check_widening(std::uint16_t bits, float got, int ebits, int mbits) {
  const double want = reference(bits, ebits, mbits);
  INFO("bits 0x" << std::hex << bits << " got " << got << " want " << want);
  CHECK(std::signbit(got) == ((bits >> 15) != 0));
  if (std::isnan(want)) {
    REQUIRE(std::isnan(got));
    const std::uint32_t payload =
        (std::bit_cast<std::uint32_t>(got) >> (23 - mbits)) & ((1u << mbits) - 1);
    CHECK(payload == (bits & ((1u << mbits) - 1)));
  } else {
    CHECK(static_cast<double>(got) == want);
  }
}

}  // namespace

TEST_CASE("f16_to_f32 is exact for every F16 bit pattern") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    check_widening(bits, cpurich::f16_to_f32(bits), 5, 10);
  }
}

TEST_CASE("bf16_to_f32 is exact for every BF16 bit pattern") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    check_widening(bits, cpurich::bf16_to_f32(bits), 8, 7);
  }
}

TEST_CASE("F16 landmarks from the IEEE 754 tables") {
  using cpurich::f16_to_f32;
  CHECK(f16_to_f32(0x3C00) == 1.0f);
  CHECK(f16_to_f32(0xC000) == -2.0f);
  CHECK(f16_to_f32(0x7BFF) == 65504.0f);                  // largest finite
  CHECK(f16_to_f32(0x0400) == std::ldexp(1.0f, -14));     // smallest normal
  CHECK(f16_to_f32(0x03FF) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));     // smallest subnormal
  CHECK(f16_to_f32(0x8001) == -std::ldexp(1.0f, -24));
  CHECK(std::bit_cast<std::uint32_t>(f16_to_f32(0x8000)) == 0x80000000u);  // -0
  CHECK(f16_to_f32(0x7C00) == std::numeric_limits<float>::infinity());
  CHECK(f16_to_f32(0xFC00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(f16_to_f32(0x7E00)));
}

TEST_CASE("BF16 landmarks") {
  using cpurich::bf16_to_f32;
  CHECK(bf16_to_f32(0x3F80) == 1.0f);
  CHECK(bf16_to_f32(0xC040) == -3.0f);
  CHECK(bf16_to_f32(0x4049) == 3.140625f);               // pi truncated to 8 bits
  CHECK(bf16_to_f32(0x0001) == std::ldexp(1.0f, -133));  // smallest subnormal
  CHECK(bf16_to_f32(0x7F80) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(bf16_to_f32(0xFFC0)));
}

// g++ before 13 knows _Float16 in C++ on x86-64 only (on aarch64 it defines
// __FLT16_MANT_DIG__ for C but rejects the type in C++).
#if defined(__FLT16_MANT_DIG__) && \
    (defined(__clang__) || defined(__x86_64__) || !defined(__GNUC__) || __GNUC__ >= 13)
TEST_CASE("f16_to_f32 agrees with the compiler's _Float16 conversion") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    _Float16 h;
    std::memcpy(&h, &bits, sizeof h);
    const float want = static_cast<float>(h);
    const float got = cpurich::f16_to_f32(bits);
    INFO("bits 0x" << std::hex << b);
    if (std::isnan(want)) {
      CHECK(std::isnan(got));  // the hardware may quiet a signalling NaN; we keep it as stored
    } else {
      CHECK(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(want));
    }
  }
}
#endif

// Narrowing F32 -> F16: checked against a rounding written in double, where
// the two neighbouring F16 values and their midpoint are exact.
namespace {

/// Round-to-nearest-even F16 of v by search over the finite F16 values.
std::uint16_t narrow_reference(float v) {
  if (std::isnan(v)) return 0x7e00;
  const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(v));
  if (a >= 65520.0) return static_cast<std::uint16_t>(sign | 0x7c00);
  // The F16 magnitudes are increasing in their bit patterns 0x0000..0x7bff.
  std::uint16_t lo = 0;
  std::uint16_t hi = 0x7bff;
  while (hi - lo > 1) {
    const auto mid = static_cast<std::uint16_t>((lo + hi) / 2);
    (static_cast<double>(cpurich::f16_to_f32(mid)) <= a ? lo : hi) = mid;
  }
  const double dl = a - cpurich::f16_to_f32(lo);
  const double dh = static_cast<double>(cpurich::f16_to_f32(hi)) - a;
  std::uint16_t pick = dl < dh ? lo : (dh < dl ? hi : ((lo & 1) == 0 ? lo : hi));
  if (a == static_cast<double>(cpurich::f16_to_f32(hi))) pick = hi;
  return static_cast<std::uint16_t>(sign | pick);
}

}  // namespace

TEST_CASE("f32_to_f16 inverts f16_to_f32 on every finite F16 value") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    if ((bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0) continue;  // NaN payloads
    INFO("bits 0x" << std::hex << b);
    CHECK(cpurich::f32_to_f16(cpurich::f16_to_f32(bits)) == bits);
  }
}

TEST_CASE("f32_to_f16 rounds to nearest, ties to even") {
  using cpurich::f32_to_f16;
  // Midpoints between neighbours, in the normal and the subnormal range.
  for (std::uint16_t bits : {std::uint16_t{0x3c00}, std::uint16_t{0x3c01}, std::uint16_t{0x0001},
                             std::uint16_t{0x0002}, std::uint16_t{0x03ff}, std::uint16_t{0x7bfe}}) {
    const double mid = 0.5 * (static_cast<double>(cpurich::f16_to_f32(bits)) +
                              cpurich::f16_to_f32(static_cast<std::uint16_t>(bits + 1)));
    const auto even = (bits & 1) == 0 ? bits : static_cast<std::uint16_t>(bits + 1);
    INFO("between 0x" << std::hex << bits << " and its successor");
    CHECK(f32_to_f16(static_cast<float>(mid)) == even);
  }
  CHECK(f32_to_f16(65519.0f) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00);
  CHECK(f32_to_f16(-1e9f) == 0xfc00);
  CHECK(f32_to_f16(1e-9f) == 0x0000);
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  CHECK((f32_to_f16(std::nanf("")) & 0x7e00) == 0x7e00);
  // A sweep of floats across the whole F16 range against the search above.
  std::uint32_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1664525u + 1013904223u;
    const float v =
        std::bit_cast<float>((state & 0x807fffffu) | ((102u + (state >> 8) % 43u) << 23));
    INFO("value " << v);
    REQUIRE(f32_to_f16(v) == narrow_reference(v));
  }
}
