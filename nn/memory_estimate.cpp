// memory_estimate.cpp: the formulas of memory_estimate.h.
#include "nn/memory_estimate.h"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>

#include "util/file_util.h"
#include "util/mem_available.h"

namespace cpurich {

namespace {

std::string gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

}  // namespace

double gpt_parameter_count(const GPTConfig& c) {
  const double L = static_cast<double>(c.n_layer), C = static_cast<double>(c.n_embd);
  const double V = static_cast<double>(c.vocab_size), T = static_cast<double>(c.n_positions);
  return V * C + T * C + L * (12.0 * C * C + 13.0 * C) + 2.0 * C;
}

MemoryEstimate training_memory(const GPTConfig& c, double trainable, int64_t batch, int64_t block) {
  const double L = static_cast<double>(c.n_layer), C = static_cast<double>(c.n_embd);
  const double H = static_cast<double>(c.n_head), V = static_cast<double>(c.vocab_size);
  const double T = static_cast<double>(block), B = static_cast<double>(batch);
  return MemoryEstimate{.weights = 4.0 * gpt_parameter_count(c),
                        .optimizer = 12.0 * trainable,
                        .activations = 4.0 * B * T * (L * (24.0 * C + 3.0 * H * T) + 3.0 * V)};
}

MemoryEstimate inference_memory(const GPTConfig& c, int64_t sequences, int64_t context) {
  const double L = static_cast<double>(c.n_layer), C = static_cast<double>(c.n_embd);
  const double S = static_cast<double>(sequences), T = static_cast<double>(context);
  return MemoryEstimate{
      .weights = 4.0 * gpt_parameter_count(c),
      .optimizer = 0.0,
      .activations = 4.0 * S * (2.0 * L * T * C + static_cast<double>(c.vocab_size))};
}

std::optional<GPTConfig> peek_model_config(const std::string& dir) {
  try {
    const std::string path = (std::filesystem::path(dir) / "config.json").string();
    const GPTConfig c = config_from_json(nlohmann::json::parse(read_file(path)));
    c.validate();
    return c;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void check_fits_in_memory(const MemoryEstimate& need, int64_t available_bytes,
                          const std::string& what) {
  if (need.total() <= static_cast<double>(available_bytes)) return;
  throw std::runtime_error(what + " needs about " + gb(need.total()) + " of memory (weights " +
                           gb(need.weights) + ", gradients + optimizer " + gb(need.optimizer) +
                           ", activations / KV cache " + gb(need.activations) + ") but only " +
                           gb(static_cast<double>(available_bytes)) +
                           " is available; choose a smaller model, batch or context");
}

void check_fits_in_memory(const MemoryEstimate& need, const std::string& what) {
  const int64_t avail = available_memory_bytes();
  if (avail > 0) check_fits_in_memory(need, avail, what);
}

}  // namespace cpurich
