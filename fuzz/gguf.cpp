// fuzz/gguf.cpp: fuzzes the GGUF reader. The library only writes GGUF
// (infer/gguf_writer.cpp, for llama.cpp); the one reader in the project is
// the tests' independent GgufParser (tests/gguf/gguf_reader.h), which checks
// every exported file. It must refuse any malformed file with an exception,
// never read past the bytes it was given or allocate from an untrusted count.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "tests/gguf/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    cpurich::test::GgufParser parser(std::vector<uint8_t>(data, data + size));
    const cpurich::test::GgufFile f = parser.parse();
    for (const auto& t : f.tensors) (void)f.data(t.name);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
