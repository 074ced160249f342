// fuzz/lora_adapter.cpp: fuzzes load_lora_adapter, which reads a PEFT adapter
// directory (adapter_config.json + adapter_model.safetensors) and attaches it
// to a model. The input is the two files cut at the separator of
// fuzz_util.h; the base is a fixed tiny model (seed 1), the same one the seed
// corpus was saved against, so inputs can pass the base-checksum check and
// reach the tensor checks. A fresh copy of the base takes each input.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "fuzz/fuzz_util.h"
#include "nn/gpt.h"
#include "nn/lora_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  static fuzz::ScratchDir dir;
  static constexpr const char* kNames[] = {"adapter_config.json", "adapter_model.safetensors"};
  static const GPTConfig config{
      .n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8, .vocab_size = 16};
  const auto parts = fuzz::split_files(fuzz::as_text(data, size), 2);
  dir.write_files(parts, kNames);
  GPT model(config, 1);
  try {
    (void)load_lora_adapter(model, dir.path());
  } catch (const std::runtime_error&) {
  }
  return 0;
}
