// crc32.h: CRC-32 (the IEEE polynomial of zlib, PNG and Ethernet), written by hand.
//
// What it teaches: a checksum that a torn or bit-flipped file cannot pass.
// CRC-32 treats the bytes as one long polynomial over GF(2) and keeps its
// remainder modulo a fixed degree-32 polynomial (0x04C11DB7, here bit-reversed
// as 0xEDB88320 because bytes are fed least-significant bit first). Every
// single-bit flip, every burst of up to 32 flipped bits and every odd number
// of flips changes the remainder, which is what matters for storage errors
// (a plain sum would miss two flips that cancel). A 256-entry table holds the
// remainder of each possible byte, so each byte costs one lookup and a shift:
//   crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8)
// starting from 0xFFFFFFFF and inverted at the end (so leading zero bytes count).
//
// Pipeline position: checkpoint files -> [crc32] -> a checksum in train_state.json.
#pragma once

#include <cstdint>
#include <string_view>

namespace cpurich {

/// CRC-32 of the bytes; crc32("123456789") == 0xCBF43926 (the standard check value).
uint32_t crc32(std::string_view bytes);
/// Continues a CRC over more bytes: crc32_update(crc32(a), b) == crc32(a + b).
uint32_t crc32_update(uint32_t crc, std::string_view bytes);

}  // namespace cpurich
