// crc32.cpp: the table-driven CRC-32 (see crc32.h for the polynomial view).
#include "util/crc32.h"

#include <array>

namespace cpurich {

namespace {

// table[b] = the remainder of the 8-bit polynomial b, one bit at a time:
// shift right, and subtract (xor) the reversed polynomial when a 1 falls off.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int k = 0; k < 8; ++k) r = (r & 1u) ? (r >> 1) ^ 0xEDB88320u : r >> 1;
    t[b] = r;
  }
  return t;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32_update(uint32_t crc, std::string_view bytes) {
  uint32_t c = ~crc;  // undo the final inversion of the previous call
  for (unsigned char b : bytes) c = kTable[(c ^ b) & 0xffu] ^ (c >> 8);
  return ~c;
}

uint32_t crc32(std::string_view bytes) {
  return crc32_update(0, bytes);
}

}  // namespace cpurich
