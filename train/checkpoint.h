// checkpoint.h: saving and restoring everything a training run needs.
//
// What it teaches: to resume a run so that every later loss is *bitwise* the
// one an uninterrupted run would print, we must restore every piece of state
// that influences the future, not just the weights:
//   model weights                     config.json + model.safetensors (nn's format)
//   tokenizer                         tokenizer.json
//   AdamW moments m, v                optimizer.safetensors ("m.<param>", "v.<param>")
//   step count, data positions (Rng   train_state.json, with the full training
//   counters), dropout Rng counter    config and the hashes of the files above
// The files are saved as one journaled commit (train/checkpoint_files.h):
// staged in DIR/.staging, committed by train_state.json (which holds the
// CRC-32 of every file and of itself), then moved in. A kill at any instant
// leaves the previous checkpoint or the new one, and resuming checks every
// CRC, so a torn or bit-flipped file is refused by name, never loaded.
// The directory is also a plain model directory for `cpurich sample`/`eval`.
//
// Pipeline position: model <-> [checkpoint directory] <-> training / sampling.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nn/load_options.h"
#include "tensor/tensor.h"
#include "train/train_config.h"

namespace cpurich {

class GPT;
class Tokenizer;
class AdamW;

/// The counters of a run, saved in train_state.json.
struct TrainState {
  int64_t iter = 0;              ///< optimizer steps completed
  int64_t tokens_seen = 0;       ///< training tokens consumed so far
  int64_t adam_step = 0;         ///< AdamW's step count t
  uint64_t train_position = 0;   ///< train TokenStream Rng counter
  uint64_t val_position = 0;     ///< val TokenStream Rng counter
  uint64_t dropout_counter = 0;  ///< the model's dropout Rng counter
  uint64_t corpus_hash = 0;      ///< fnv1a64 of the corpus the run trains on
  TrainConfig config;            ///< the full training configuration
};

/// Writes a complete checkpoint into dir (created if needed) as one commit.
/// On failure (full disk, read-only place) throws std::runtime_error naming
/// the file, with dir still holding the previous checkpoint.
void save_checkpoint(const std::string& dir, const GPT& model, const Tokenizer& tokenizer,
                     const AdamW& optimizer, const TrainState& state);

/// Reads and checks train_state.json (finishing an interrupted save, and
/// checking the CRC-32 of every file). Throws std::runtime_error naming the
/// file and problem ("checkpoint DIR/FILE: checksum mismatch ...").
TrainState load_train_state(const std::string& dir);
/// The tensors of model.safetensors in dir (NaN / Inf refused unless options allow it).
std::map<std::string, Tensor> load_checkpoint_weights(const std::string& dir,
                                                      const LoadOptions& options = {});
/// The tensors of optimizer.safetensors in dir (NaN / Inf refused unless options allow it).
std::map<std::string, Tensor> load_checkpoint_optimizer(const std::string& dir,
                                                        const LoadOptions& options = {});

}  // namespace cpurich
