// fuzz/quant.cpp: fuzzes the reading of quantized tensors: the U8 block
// tensors of a model.safetensors, their "cpurich.quant.<name>" metadata
// (format, rows, cols) checked against a fixed small config, then each
// matrix dequantized. The input is the safetensors file; the config is fixed
// so the fuzzer spends its time on the blocks, not on config.json (which
// fuzz_model_dir covers).
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "nn/quant_io.h"
#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  // n_embd 32: blocks of 32 fit every matrix, nf4's blocks of 64 fit the MLP's c_proj (128 inputs).
  static const GPTConfig config{
      .n_layer = 1, .n_head = 2, .n_embd = 32, .n_positions = 16, .vocab_size = 64};
  try {
    const SafetensorsFile f =
        parse_safetensors(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    for (const auto& [name, q] : quantized_matrices_from_file(f, config, "fuzz"))
      (void)dequantize_to_state_tensor(name, q);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
