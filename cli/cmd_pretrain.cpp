// cmd_pretrain.cpp: `cpurich pretrain` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_pretrain(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
