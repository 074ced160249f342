// stop_strings.cpp: streaming text with UTF-8 and stop-string hold-back
// (see stop_strings.h).
#include "infer/stop_strings.h"

#include <algorithm>

namespace cpurich {

size_t utf8_complete_prefix(std::string_view s) {
  // Walk back over at most 3 continuation bytes (10xxxxxx) to a lead byte.
  size_t i = s.size();
  size_t back = 0;
  while (i > 0 && back < 3 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++back;
  }
  if (i == 0) return s.size();  // only continuation bytes: nothing to wait for
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  size_t need = 1;  // bytes in the sequence that starts with `lead`
  if ((lead & 0xE0) == 0xC0)
    need = 2;
  else if ((lead & 0xF0) == 0xE0)
    need = 3;
  else if ((lead & 0xF8) == 0xF0)
    need = 4;
  const size_t have = s.size() - (i - 1);
  return have < need ? i - 1 : s.size();
}

TextStream::TextStream(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

bool TextStream::append(std::string_view bytes) {
  if (stopped_) return true;
  const size_t old = text_.size();
  text_.append(bytes);
  size_t cut = std::string::npos;
  for (const std::string& s : stops_) {
    // A new occurrence must end inside the new bytes: start searching s-1 back.
    const size_t from = old >= s.size() - 1 ? old - (s.size() - 1) : 0;
    cut = std::min(cut, text_.find(s, from));
  }
  if (cut == std::string::npos) return false;
  text_.resize(cut);
  emitted_ = std::min(emitted_, cut);
  stopped_ = true;
  return true;
}

std::string_view TextStream::take_ready() {
  size_t limit = text_.size();
  if (!stopped_) {
    // Hold back the longest tail that could still grow into a stop string.
    for (const std::string& s : stops_) {
      for (size_t k = std::min(s.size() - 1, text_.size()); k > 0; --k) {
        if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
          limit = std::min(limit, text_.size() - k);
          break;
        }
      }
    }
    limit = utf8_complete_prefix(std::string_view(text_).substr(0, limit));
  }
  if (limit <= emitted_) return {};
  const std::string_view out = std::string_view(text_).substr(emitted_, limit - emitted_);
  emitted_ = limit;
  return out;
}

std::string_view TextStream::take_rest() {
  const std::string_view out = std::string_view(text_).substr(emitted_);
  emitted_ = text_.size();
  return out;
}

void TextStream::clear() {
  text_.clear();
  emitted_ = 0;
  stopped_ = false;
}

}  // namespace cpurich
