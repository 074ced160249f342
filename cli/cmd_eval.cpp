// cmd_eval.cpp: `cpurich eval` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_eval(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
