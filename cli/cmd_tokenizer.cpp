// cmd_tokenizer.cpp: `cpurich tokenizer` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_tokenizer(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
