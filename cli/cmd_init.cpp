// cmd_init.cpp: `cpurich init` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_init(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
