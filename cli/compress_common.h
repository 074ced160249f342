// compress_common.h: what `cpurich prune` and `cpurich lowrank` share: the
// calibration ids and copying the model directory's tokenizer to the output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/gpt.h"

namespace cpurich::cli {

/// Token ids to calibrate on: `calib` (a text file, encoded with the model
/// directory's tokenizer) or, if empty, none. Throws when the text encodes
/// to fewer than 2 ids.
std::vector<int32_t> calibration_ids(const std::string& model_dir, const std::string& calib);
/// Throws if `out` is `model_dir` itself: writing there would replace the model
/// being compressed (the same refusal as quantize, finetune and lora merge).
void refuse_output_over_model(const std::string& model_dir, const std::string& out);
/// Writes `out`'s model files and a copy of model_dir's tokenizer (if it has one).
void save_compressed(const GPT& model, const std::string& model_dir, const std::string& out);

}  // namespace cpurich::cli
