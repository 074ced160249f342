// utf8.h: decoding and encoding UTF-8, the byte encoding of Unicode text.
//
// What it teaches: a Unicode character (a "code point", 0..0x10FFFF) is stored
// as 1 to 4 bytes. The first byte says how many follow:
//   0xxxxxxx                              1 byte,  U+0000..U+007F (ASCII)
//   110xxxxx 10xxxxxx                     2 bytes, U+0080..U+07FF
//   1110xxxx 10xxxxxx 10xxxxxx            3 bytes, U+0800..U+FFFF
//   11110xxx 10xxxxxx 10xxxxxx 10xxxxxx   4 bytes, U+10000..U+10FFFF
// Not every byte string is valid UTF-8: a stray continuation byte, a truncated
// sequence, an "overlong" form (a long encoding of a small code point) or a
// UTF-16 surrogate (U+D800..U+DFFF) are all errors we report with their byte offset.
//
// Pipeline position: text -> [tokens]: the char-level tokenizer decodes text
// into code points; the byte-level BPE splits words at character boundaries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cpurich::utf8 {

/// One decoded code point and the number of bytes it used (0 = invalid sequence).
struct Decoded {
  char32_t cp = 0;      ///< the code point (meaningless when len == 0)
  std::size_t len = 0;  ///< 1..4 bytes, or 0 if the bytes at pos are not valid UTF-8
};

/// Decodes the code point starting at byte `pos` (pos < text.size()); never throws.
Decoded decode_one(std::string_view text, std::size_t pos);

/// All code points of `text`; throws std::invalid_argument
/// ("invalid UTF-8 at byte offset N") on the first invalid sequence.
std::vector<char32_t> decode(std::string_view text);

/// Code points and the byte offset where each one starts (for error messages).
void decode_with_offsets(std::string_view text, std::vector<char32_t>& cps,
                         std::vector<std::size_t>& offsets);

/// Throws std::invalid_argument with the byte offset if `text` is not valid UTF-8.
void validate(std::string_view text);

/// True if `text` is valid UTF-8.
bool is_valid(std::string_view text);

/// Appends the UTF-8 bytes of `cp` to `out`; throws std::invalid_argument for
/// surrogates and values above U+10FFFF.
void append(std::string& out, char32_t cp);

/// The UTF-8 bytes of one code point.
std::string encode(char32_t cp);

/// Printable description of a code point for error messages: 'ë' (U+00EB);
/// control characters are shown by their code only.
std::string describe(char32_t cp);

}  // namespace cpurich::utf8
