// fuzz/gpt2_tokenizer.cpp: fuzzes gpt2_tokenizer_from_text, the reader of
// Hugging Face GPT-2's vocab.json ({"token": id} in GPT-2's byte-to-unicode
// alphabet) and merges.txt ("a b" per line), then encodes a text with the
// loaded tables and decodes it back, because merges that load but point
// nowhere would crash only when used. The input is vocab.json, merges.txt
// and the text, cut at the separator of fuzz_util.h.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "tokenizer/tokenizer_bpe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  const auto parts = fuzz::split_files(fuzz::as_text(data, size), 3);
  if (parts.size() < 2) return 0;  // load_tokenizer_from_dir needs both files
  try {
    const BpeTokenizer tok = gpt2_tokenizer_from_text(parts[0], parts[1]);
    if (parts.size() > 2) {
      const std::vector<int32_t> ids = tok.encode(parts[2]);
      for (int32_t id : ids)
        if (id < 0 || id >= tok.vocab_size()) std::abort();
      (void)tok.decode(ids);
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
