// sampling_flags.h: the flags `cpurich sample` and `cpurich chat` share
// (model directory, adapters, sampler knobs, stop strings, context policy,
// threads) and loading the model they name.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infer/generate.h"
#include "infer/session.h"

namespace cpurich::cli {

/// Parsed values of the shared flags.
struct SamplingFlags {
  std::string model;
  /// --adapter values: one plain DIR is merged at load; NAME=DIR (or several)
  /// stay apart over the shared base and --use picks one.
  std::vector<std::string> adapters;
  std::string use;  ///< --use NAME: the adapter to start on ("" = the first; "base" = none)
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

/// The model the flags ask for, ready to generate.
struct LoadedModel {
  InferenceModel merged;  ///< no --adapter, or one plain DIR merged (no --use)
  AdapterModel apart;     ///< otherwise: the base and its adapters, kept apart
  std::unique_ptr<DecoderRef> ref;
  TokenDecoder* decoder = nullptr;  ///< whichever of the two is loaded
  const Tokenizer* tokenizer = nullptr;
  AdapterDecoder* adapters = nullptr;  ///< null when merged: /use is not possible
};

/// Loads --model with its --adapter(s): merged as before when at most one
/// plain DIR is given and no --use; otherwise kept apart (infer/adapter_decoder.h),
/// starting on --use NAME, or the first adapter given. Throws as
/// load_inference_model / load_adapter_model, and on an unknown --use name.
LoadedModel load_model_for(const SamplingFlags& flags);

/// Adds --model, --adapter, --use, --max-new-tokens, --temperature, --top-k, --top-p, --min-p,
/// --repetition-penalty, --seed, --stop (repeatable), --context, --threads.
/// flags.context must hold the default policy name before the call.
void add_sampling_flags(CLI::App* sub, SamplingFlags& flags);

}  // namespace cpurich::cli
