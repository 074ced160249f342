// nn_test_util.h (tests only): small models and scratch directories.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "nn/gpt.h"
#include "tensor/rng.h"

namespace cpurich::testing {

/// A toy size every nn test can afford, even under ASan.
inline GPTConfig toy_config(int64_t n_layer = 2) {
  GPTConfig c;
  c.n_layer = n_layer;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_positions = 6;
  c.vocab_size = 11;
  return c;
}

/// Replaces every parameter by N(0, std^2) draws (biases and LayerNorm
/// included, so no term of the forward pass is trivially zero or one).
/// GPT-2's own init (std 0.02, zero biases) would leave the blocks nearly
/// linear and make comparisons weak.
inline void randomize(GPT& model, uint64_t seed, double std = 0.3) {
  Rng rng(seed);
  std::map<std::string, Tensor> sd;
  for (const auto& [name, t] : model.state_dict()) {
    Tensor v = rng.normal(t.shape(), 0.0, std, DType::F64);
    if (name.find("ln_") != std::string::npos && name.ends_with(".weight"))
      v = rng.normal(t.shape(), 1.0, std, DType::F64);  // gains around 1
    sd[name] = v;
  }
  model.load_state_dict(sd);
}

/// A fresh empty directory under the system temp dir, removed on destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() /
              ("cpurich_nn_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace cpurich::testing
