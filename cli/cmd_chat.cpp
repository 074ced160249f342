// cmd_chat.cpp: `cpurich chat`: an interactive conversation (infer/chat.h).
// Reads one line per turn from stdin (a terminal or a pipe), streams the
// reply, and ends at end of input. With adapters kept apart
// (--adapter NAME=DIR), a line "/use NAME" switches adapter mid-conversation.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "infer/chat.h"
#include "infer/session.h"

namespace cpurich::cli {

namespace {

// "/use NAME" (or "/use", "/use base": no adapter). The conversation is
// kept; the adapter decoder empties its cache, so the next turn re-reads the
// conversation under the new adapter.
void switch_adapter(AdapterDecoder* adapters, std::string name) {
  if (adapters == nullptr)
    throw std::invalid_argument(
        "/use needs adapters kept apart: start chat with --adapter NAME=DIR (repeatable)");
  name.erase(0, name.find_first_not_of(' '));
  name.erase(name.find_last_not_of(' ') + 1);
  adapters->use(name);
  if (adapters->active() == AdapterDecoder::kBase)
    std::fprintf(stderr, "chat: now without adapter (the base model)\n");
  else
    std::fprintf(stderr, "chat: now using adapter '%s'\n", adapters->active().c_str());
}

void run_chat(const SamplingFlags& flags, bool multiline) {
  apply_threads(flags.threads);
  const GenerateOptions options = flags.to_options();
  LoadedModel m = load_model_for(flags);
  ChatSession chat(*m.decoder, *m.tokenizer, options, multiline ? ReplyEnd::Turn : ReplyEnd::Line);
  const bool interactive = isatty(STDIN_FILENO) != 0;
  std::string line;
  int64_t turns = 0, new_tokens = 0;
  double decode_seconds = 0.0;
  while (true) {
    if (interactive) std::fputs("> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    bool started = false;  // drop the reply's leading spaces / newlines
    auto print = [&](std::string_view s) {
      if (!started) {
        const size_t first = s.find_first_not_of(" \n");
        if (first == std::string_view::npos) return;
        s.remove_prefix(first);
        started = true;
      }
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
    try {
      if (line == "/use" || line.rfind("/use ", 0) == 0) {
        switch_adapter(m.adapters, line.substr(4));
        continue;
      }
      const GenerateResult r = chat.turn(line, print);
      if (r.text.empty() || r.text.back() != '\n') std::fputs("\n", stdout);
      ++turns;
      new_tokens += static_cast<int64_t>(r.tokens.size());
      decode_seconds += r.decode_seconds;
    } catch (const std::invalid_argument& e) {
      if (!interactive) throw;  // a script gets the error and exit code 1
      std::fprintf(stderr, "cpurich: error: %s\n", e.what());
    }
  }
  if (turns > 0)
    std::fprintf(stderr, "chat: %lld turns, %lld tokens generated, decode %.1f tok/s\n",
                 static_cast<long long>(turns), static_cast<long long>(new_tokens),
                 decode_seconds > 0 ? static_cast<double>(new_tokens) / decode_seconds : 0.0);
}

}  // namespace

void register_chat(CLI::App& app) {
  auto flags = std::make_shared<SamplingFlags>();
  flags->context = "slide";
  flags->max_new_tokens = 128;
  auto multiline = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "chat",
      "Talk to a model: each line you type becomes '### Human: <line>\\n### Assistant:' and the\n"
      "model answers until the end of its line (fine-tuning taught it ' <answer>\\n'), or with\n"
      "--multiline until it writes '### Human:', or until --max-new-tokens (default 128).\n"
      "The conversation stays in the context (oldest tokens dropped when it is full). Reads\n"
      "stdin line by line (works with a pipe: printf 'hi\\nbye\\n' | cpurich chat ...).\n"
      "With --adapter NAME=DIR (repeatable) the adapters stay apart over one base: a line\n"
      "'/use NAME' switches to another ('/use' or '/use base': none) and the next turn\n"
      "re-reads the conversation under it.");
  add_sampling_flags(sub, *flags);
  sub->add_flag("--multiline", *multiline,
                "Let a reply span lines: stop only at the next '### Human:' turn");
  sub->callback([flags, multiline] { run_chat(*flags, *multiline); });
}

}  // namespace cpurich::cli
