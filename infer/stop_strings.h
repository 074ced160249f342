// stop_strings.h: assembling generated text for streaming, and stopping on it.
//
// What it teaches: we print tokens as they come, but two things make the
// newest bytes unsafe to print yet:
//   - a byte-level BPE token can end in the middle of a multi-byte UTF-8
//     character (an emoji is 4 bytes, maybe 2 tokens): printing half of it
//     shows garbage, so we hold back an incomplete trailing character;
//   - the text may end with the beginning of a stop string ("### Hu" when the
//     stop is "### Human:"): if the stop string completes, those bytes must
//     never have been shown, so we hold back any such prefix too.
// Stop strings are matched on the decoded TEXT, not on token ids, because the
// same string can be split into tokens in many ways.
//
// Pipeline position: tokens -> model -> sampler -> [text] -> your terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cpurich {

/// Length of the longest prefix of s that does not end inside an incomplete
/// UTF-8 sequence (only the last 3 bytes can be cut off).
size_t utf8_complete_prefix(std::string_view s);

/// Generated text, stop-string detection and "what is safe to print now".
class TextStream {
 public:
  /// Empty stop strings are ignored.
  explicit TextStream(std::vector<std::string> stops = {});

  /// Appends newly decoded bytes. Returns true when a stop string occurs: the
  /// text is then cut just before its first occurrence and stopped() is true.
  bool append(std::string_view bytes);
  bool stopped() const { return stopped_; }
  /// All text so far (cut before the stop string if one was found).
  const std::string& text() const { return text_; }
  /// The not-yet-returned text that is safe to print now (may be empty).
  std::string_view take_ready();
  /// At the end of generation: everything not yet returned.
  std::string_view take_rest();
  /// Forgets everything (same stop strings).
  void clear();

 private:
  std::vector<std::string> stops_;
  std::string text_;
  size_t emitted_ = 0;
  bool stopped_ = false;
};

}  // namespace cpurich
