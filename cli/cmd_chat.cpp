// cmd_chat.cpp: `cpurich chat` (placeholder until its issue lands).
#include "cli/commands.h"

namespace cpurich::cli {

void register_chat(CLI::App& /*app*/) {}

}  // namespace cpurich::cli
