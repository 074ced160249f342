// fuzz/checkpoint.cpp: fuzzes the checkpoint readers a resumed training run
// calls: load_train_state (train_state.json: counters, the full training
// config, the hashes of the weight files) and load_checkpoint_weights /
// load_checkpoint_optimizer (model.safetensors, optimizer.safetensors). The
// input is the three files cut at the separator of fuzz_util.h. A bad
// checkpoint must be refused with one std::runtime_error, never resumed.
#include "train/checkpoint.h"

#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpurich;
  static fuzz::ScratchDir dir;
  static constexpr const char* kNames[] = {"train_state.json", "model.safetensors",
                                           "optimizer.safetensors"};
  const auto parts = fuzz::split_files(fuzz::as_text(data, size), 3);
  dir.write_files(parts, kNames);
  try {
    (void)load_train_state(dir.path());
  } catch (const std::runtime_error&) {
  }
  try {
    (void)load_checkpoint_weights(dir.path());
    (void)load_checkpoint_optimizer(dir.path());
  } catch (const std::runtime_error&) {
  }
  return 0;
}
