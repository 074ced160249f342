// cmd_sample.cpp: `cpurich sample`: continue a prompt with a trained model
// (and an adapter, merged or picked by --use among several), streaming the
// text as it is generated (infer/generate.h), then report the prefill and
// decode speed on stderr (or everything as one JSON object).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/sampling_flags.h"
#include "infer/session.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

struct SampleOptions {
  SamplingFlags flags;
  std::string prompt;
  std::string prompt_file;
  bool json = false;
  CLI::Option* prompt_opt = nullptr;
  CLI::Option* prompt_file_opt = nullptr;
};

void run_sample(const SampleOptions& o) {
  apply_threads(o.flags.threads);
  GenerateOptions options = o.flags.to_options();  // bad values fail before loading
  const bool from_file = o.prompt_file_opt->count() > 0;
  if ((o.prompt_opt->count() > 0) == from_file)
    throw std::invalid_argument("give exactly one of --prompt TEXT and --prompt-file FILE");
  const std::string text = from_file ? read_text_input("--prompt-file", o.prompt_file) : o.prompt;
  if (text.empty()) throw std::invalid_argument("empty prompt: give some text to continue");
  LoadedModel m = load_model_for(o.flags);
  options.sampler.validate(m.decoder->config().vocab_size);  // now top-k's bound is known
  const auto ids = encode_prompt(*m.tokenizer, text);
  TextCallback print;
  if (!o.json) {
    std::fputs(text.c_str(), stdout);
    print = [](std::string_view s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
  }
  const GenerateResult r = generate(*m.decoder, *m.tokenizer, ids, options, print);
  if (o.json) {
    nlohmann::json j = {{"text", r.text},
                        {"prompt_tokens", r.prompt_tokens},
                        {"new_tokens", r.tokens.size()},
                        {"prefill_tok_s", r.prefill_tok_s()},
                        {"decode_tok_s", r.decode_tok_s()},
                        {"finish_reason", r.finish_reason}};
    if (m.adapters != nullptr) j["adapter"] = m.adapters->active();
    // Replace invalid UTF-8 (a BPE model cut mid-character) rather than throw.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("\n");
    std::fflush(stdout);  // the text ends before the stderr figures start
    std::fprintf(stderr,
                 "prompt %lld tokens, prefill %.1f tok/s; %zu new tokens, decode %.1f tok/s (%s)\n",
                 static_cast<long long>(r.prompt_tokens), r.prefill_tok_s(), r.tokens.size(),
                 r.decode_tok_s(), r.finish_reason.c_str());
  }
}

}  // namespace

void register_sample(CLI::App& app) {
  auto opts = std::make_shared<SampleOptions>();
  opts->flags.context = "stop";
  CLI::App* sub = app.add_subcommand(
      "sample",
      "Continue a prompt: prints the prompt, then the generated text as it comes, then the\n"
      "prefill and decode speed (tokens/s) on stderr. Samplers apply in the order repetition\n"
      "penalty, temperature, top-k, top-p, min-p; the same seed always gives the same text.");
  add_sampling_flags(sub, opts->flags);
  opts->prompt_opt = sub->add_option("--prompt", opts->prompt, "The text to continue");
  opts->prompt_file_opt =
      sub->add_option("--prompt-file", opts->prompt_file, "Read the prompt from FILE")
          ->check(CLI::ExistingFile);
  sub->add_flag("--json", opts->json,
                "Print one JSON object {text, prompt_tokens, new_tokens, prefill_tok_s, "
                "decode_tok_s, finish_reason[, adapter]} instead of streaming");
  sub->callback([opts] { run_sample(*opts); });
}

}  // namespace cpurich::cli
