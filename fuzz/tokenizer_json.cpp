// fuzz/tokenizer_json.cpp: fuzzes tokenizer_from_json, the reader of our own
// tokenizer.json (char-level and byte-level BPE: vocab, merges, special
// tokens), then runs the loaded tokenizer: it encodes a text, decodes the
// ids back and decodes every id of its vocabulary, because a table that
// loads but indexes out of bounds later is as much a loader bug as a crash
// while loading. The input is tokenizer.json, then (after the separator of
// fuzz_util.h) the text to encode.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  const auto parts = fuzz::split_files(fuzz::as_text(data, size), 2);
  const nlohmann::json j = nlohmann::json::parse(parts[0], nullptr, false);
  if (j.is_discarded()) return 0;  // not JSON: load_tokenizer's first check, nothing to fuzz
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = tokenizer_from_json(j);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  std::vector<int32_t> all(static_cast<size_t>(tok->vocab_size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
  (void)tok->decode(all);
  if (parts.size() > 1) {
    try {
      const std::vector<int32_t> ids = tok->encode(parts[1]);
      for (int32_t id : ids)
        if (id < 0 || id >= tok->vocab_size()) std::abort();
      (void)tok->decode(ids);
    } catch (const std::invalid_argument&) {  // text the tokenizer cannot encode
    }
  }
  return 0;
}
