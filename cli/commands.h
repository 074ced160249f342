// commands.h: every `cpurich` subcommand registers itself through one of these
// functions (one .cpp file per subcommand in cli/). main.cpp calls them all.
#pragma once

#include <CLI/CLI.hpp>

namespace cpurich::cli {

void register_init(CLI::App& app);       // cpurich init: random model directory
void register_eval(CLI::App& app);       // cpurich eval: loss / perplexity
void register_data(CLI::App& app);       // cpurich data world: built-in corpus
void register_tokenizer(CLI::App& app);  // cpurich tokenizer train, encode, decode
void register_pretrain(CLI::App& app);   // cpurich pretrain
void register_sample(CLI::App& app);     // cpurich sample
void register_chat(CLI::App& app);       // cpurich chat
void register_finetune(CLI::App& app);   // cpurich finetune
void register_lora(CLI::App& app);       // cpurich lora merge
void register_qa_eval(CLI::App& app);    // cpurich qa-eval
void register_prune(CLI::App& app);      // cpurich prune
void register_lowrank(CLI::App& app);    // cpurich lowrank
void register_export(CLI::App& app);     // cpurich export: GGUF for llama.cpp
void register_quantize(CLI::App& app);   // cpurich quantize
void register_compare(CLI::App& app);    // cpurich compare: fp32 vs quantized variants
void register_serve(CLI::App& app);      // cpurich serve
void register_sweep(CLI::App& app);      // cpurich sweep: scaling-law sweeps
/// cpurich list-flags (hidden): every subcommand's options as JSON lines.
void register_list_flags(CLI::App& app);

/// Checks every option's value before its subcommand sees it: valid UTF-8, not
/// empty, and a well-formed in-range integer / finite number for numeric flags
/// (cli/strict_values.cpp). Call once, after every subcommand is registered.
void add_strict_value_checks(CLI::App& app);

/// Adds --threads N to a subcommand; call apply_threads(n) when it runs.
void add_threads_option(CLI::App& sub, int& threads);
/// 0 = keep the CPURICH_THREADS / default setting.
void apply_threads(int threads);

}  // namespace cpurich::cli
