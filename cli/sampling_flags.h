// sampling_flags.h: the flags `cpurich sample` and `cpurich chat` share
// (model directory, sampler knobs, stop strings, context policy, threads).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "infer/generate.h"

namespace cpurich::cli {

/// Parsed values of the shared flags.
struct SamplingFlags {
  std::string model;
  std::string adapter;  ///< LoRA adapter directory merged at load ("" = none)
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  int64_t top_k = -1;
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::string context;
  int threads = 0;

  /// GenerateOptions from the flags; validates the sampler values that do not
  /// depend on the model (top-k's upper bound is checked once it is loaded).
  GenerateOptions to_options() const;
};

/// Adds --model, --adapter, --max-new-tokens, --temperature, --top-k, --top-p, --min-p,
/// --repetition-penalty, --seed, --stop (repeatable), --context, --threads.
/// flags.context must hold the default policy name before the call.
void add_sampling_flags(CLI::App* sub, SamplingFlags& flags);

}  // namespace cpurich::cli
