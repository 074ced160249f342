// threads_option.cpp: the --threads flag shared by every subcommand.
#include "cli/commands.h"
#include "tensor/threads.h"

namespace cpurich::cli {

void add_threads_option(CLI::App& sub, int& threads) {
  sub.add_option("--threads", threads,
                 "Threads for our kernels and OpenBLAS (default: CPURICH_THREADS or all cores)")
      ->check(CLI::Range(1, 1024));
}

void apply_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

}  // namespace cpurich::cli
