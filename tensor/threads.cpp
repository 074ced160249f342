// threads.cpp: see threads.h. One setting for the pool (parallel.h) and OpenBLAS.
#include "tensor/threads.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tensor/parallel.h"

#ifdef CPURICH_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace cpurich {
namespace {
int g_threads = 0;  // 0 = not set yet: the cores we may use
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("thread count must be >= 1, got " + std::to_string(n));
  g_threads = n;
#ifdef CPURICH_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

int num_threads() {
  return g_threads > 0 ? g_threads : usable_cores();
}

void init_threads_from_env() {
  const char* env = std::getenv("CPURICH_THREADS");
  if (env == nullptr || *env == '\0') {
    set_num_threads(usable_cores());
    return;
  }
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024)
    throw std::invalid_argument(
        std::string("CPURICH_THREADS must be an integer in [1, 1024], got '") + env + "'");
  set_num_threads(static_cast<int>(n));
}

}  // namespace cpurich
