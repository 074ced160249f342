// cmd_sample.cpp: `cpurich sample` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_sample(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
