// cmd_data.cpp: `cpurich data` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_data(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
