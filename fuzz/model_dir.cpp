// fuzz/model_dir.cpp: fuzzes load_model, which reads a model directory
// (config.json + model.safetensors, ours or Hugging Face GPT-2's, F32, F16,
// BF16 or quantized U8 blocks). The input is the two files cut at the
// separator of fuzz_util.h. config.json's numbers decide how big a model gets
// built, so this is where a hostile config could ask for terabytes: the
// loader must refuse every mismatch with one std::runtime_error.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "fuzz/fuzz_util.h"
#include "nn/gpt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cpurich::fuzz::ScratchDir dir;
  static constexpr const char* kNames[] = {"config.json", "model.safetensors"};
  const auto parts = cpurich::fuzz::split_files(cpurich::fuzz::as_text(data, size), 2);
  dir.write_files(parts, kNames);
  try {
    (void)cpurich::load_model(dir.path());
  } catch (const std::runtime_error&) {
  }
  return 0;
}
