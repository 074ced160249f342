// safetensors_test_util.h: building safetensors files byte by byte in tests,
// independently of our own serializer, and catching the reader's errors.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "nn/safetensors.h"
#include "tests/common/temp_dir.h"

namespace cpurich::test {

/// The 8-byte little-endian encoding of n, written out with shifts.
inline std::string u64_le(std::uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

/// A whole file: [len(header) as u64 LE][header][buffer].
inline std::string make_file(const std::string& header, const std::string& buffer) {
  return u64_le(header.size()) + header + buffer;
}

/// `n` zero bytes: a data buffer whose values do not matter.
inline std::string zeros(std::size_t n) {
  return std::string(n, '\0');
}

inline std::span<const std::byte> as_byte_span(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

/// The message parse_safetensors throws for `bytes`, or "<accepted>".
/// Any exception other than SafetensorsError is reported as such, so a test
/// comparing messages also catches the wrong exception type.
inline std::string error_of(const std::string& bytes) {
  try {
    parse_safetensors(as_byte_span(bytes), "case.safetensors");
  } catch (const SafetensorsError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<wrong exception type> ") + e.what();
  }
  return "<accepted>";
}

}  // namespace cpurich::test
