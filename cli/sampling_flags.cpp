// sampling_flags.cpp: the flags shared by `cpurich sample` and `cpurich chat`.
#include "cli/sampling_flags.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "nn/memory_estimate.h"

namespace cpurich::cli {

GenerateOptions SamplingFlags::to_options() const {
  const SamplerOptions sampler{.temperature = temperature,
                               .top_k = top_k,
                               .top_p = top_p,
                               .min_p = min_p,
                               .repetition_penalty = repetition_penalty,
                               .seed = seed};
  // top-k's upper bound (the vocabulary) is checked once the model is loaded.
  if (top_k != -1 && top_k < 1)
    throw std::invalid_argument("--top-k must be >= 1 (or -1 for off), got " +
                                std::to_string(top_k));
  sampler.validate(std::max<int64_t>(top_k, 1));
  if (max_new_tokens < 1)
    throw std::invalid_argument("--max-new-tokens must be >= 1, got " +
                                std::to_string(max_new_tokens));
  return GenerateOptions{.sampler = sampler,
                         .max_new_tokens = max_new_tokens,
                         .stop = stop,
                         .context = context_policy_from_name(context)};
}

LoadedModel load_model_for(const SamplingFlags& flags) {
  // A model whose weights and KV cache cannot fit is refused before loading.
  if (const auto c = peek_model_config(flags.model))
    check_fits_in_memory(inference_memory(*c, 1, c->n_positions), "the model " + flags.model);
  LoadedModel l;
  const bool apart =
      !flags.use.empty() || flags.adapters.size() > 1 ||
      (flags.adapters.size() == 1 && flags.adapters[0].find('=') != std::string::npos);
  if (!apart) {
    l.merged = load_inference_model(flags.model, flags.adapters.empty() ? "" : flags.adapters[0]);
    l.ref = std::make_unique<DecoderRef>(*l.merged.decoder);
    l.decoder = l.ref.get();
    l.tokenizer = l.merged.tokenizer.get();
    return l;
  }
  std::vector<AdapterSpec> specs;
  for (const std::string& a : flags.adapters) specs.push_back(parse_adapter_spec(a));
  l.apart = load_adapter_model(flags.model, specs);
  l.adapters = l.apart.decoder.get();
  l.adapters->use(!flags.use.empty() ? flags.use
                  : specs.empty()    ? std::string(AdapterDecoder::kBase)
                                     : specs[0].name);
  l.decoder = l.adapters;
  l.tokenizer = l.apart.tokenizer.get();
  return l;
}

void add_sampling_flags(CLI::App* sub, SamplingFlags& f) {
  sub->add_option("--model", f.model, "Model directory (config.json, model.safetensors, tokenizer)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--adapter", f.adapters,
                  "LoRA adapter directory (PEFT layout): one DIR is merged at load; NAME=DIR "
                  "(repeatable) keeps adapters apart over one base, chosen with --use")
      ->check(adapter_dir());
  sub->add_option("--use", f.use,
                  "Adapter NAME to generate with (default: the first --adapter; 'base' = none)");
  sub->add_option("--max-new-tokens", f.max_new_tokens, "Tokens to generate at most (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--temperature", f.temperature,
                  "Divide logits by T: <1 sharper, >1 flatter, 0 = greedy (default 1)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--top-k", f.top_k, "Keep only the K most likely tokens (default: off)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30) | CLI::IsMember({int64_t{-1}}));
  sub->add_option("--top-p", f.top_p,
                  "Nucleus: keep the most likely tokens up to total probability P, in (0,1] "
                  "(default 1 = off)")
      ->check(CLI::Range(1e-9, 1.0));
  sub->add_option("--min-p", f.min_p,
                  "Keep tokens with p >= M * p_max, M in [0,1) (default 0 = off)")
      ->check(CLI::Range(0.0, 0.999999));
  sub->add_option("--repetition-penalty", f.repetition_penalty,
                  "CTRL penalty R > 0 for tokens already in context; 1 = off (default)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", f.seed, "Random seed: same seed, same text (default 0)");
  sub->add_option("--stop", f.stop, "Stop when the text contains STR (repeatable)");
  sub->add_option("--context", f.context,
                  "When the context window is full: stop, or slide (keep the last half, "
                  "re-prefill) (default " +
                      f.context + ")")
      ->check(parsed_by(context_policy_from_name));
  add_threads_option(*sub, f.threads);
}

}  // namespace cpurich::cli
