// main.cpp: the `cpurich` program. Subcommands live one per file in cli/;
// here we only parse, dispatch and turn any exception into a one-line error
// with a non-zero exit code (never a crash or a stack trace).
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "nn/load_options.h"
#include "tensor/threads.h"

int main(int argc, char** argv) {
  CLI::App app{"cpurich: pretrain, fine-tune, quantize and sample a tiny GPT on a CPU"};
  app.require_subcommand(1);
  cpurich::cli::register_init(app);
  cpurich::cli::register_eval(app);
  cpurich::cli::register_data(app);
  cpurich::cli::register_tokenizer(app);
  cpurich::cli::register_pretrain(app);
  cpurich::cli::register_sample(app);
  cpurich::cli::register_chat(app);
  cpurich::cli::register_finetune(app);
  cpurich::cli::register_lora(app);
  cpurich::cli::register_qa_eval(app);
  cpurich::cli::register_prune(app);
  cpurich::cli::register_lowrank(app);
  cpurich::cli::register_export(app);
  cpurich::cli::register_quantize(app);
  cpurich::cli::register_compare(app);
  cpurich::cli::register_serve(app);
  cpurich::cli::register_sweep(app);
  // Every subcommand that loads weights refuses NaN / Inf in them unless told
  // otherwise (nn/load_options.h); the flag only changes the process default.
  for (CLI::App* sub :
       {app.get_subcommand("eval"), app.get_subcommand("pretrain"), app.get_subcommand("sample"),
        app.get_subcommand("chat"), app.get_subcommand("finetune"),
        app.get_subcommand("lora")->get_subcommand("merge"), app.get_subcommand("qa-eval"),
        app.get_subcommand("prune"), app.get_subcommand("lowrank"), app.get_subcommand("export"),
        app.get_subcommand("quantize"), app.get_subcommand("compare"), app.get_subcommand("serve")})
    sub->add_flag_callback(
           "--allow-nonfinite", [] { cpurich::set_nonfinite_allowed_by_default(true); },
           "Load weights holding NaN or Inf instead of refusing them (to inspect a broken run)")
        ->trigger_on_parse();
  cpurich::cli::register_list_flags(app);
  cpurich::cli::add_strict_value_checks(app);  // after every option exists
  try {
    cpurich::init_threads_from_env();
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version exit 0; every other parse error (bad flag, missing
    // option, bad value) is a usage error: one line and exit 1 like any other
    // failure (CLI11's own message takes two lines and no prefix).
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "cpurich: error: %s (see --help)\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpurich: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
