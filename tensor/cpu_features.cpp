// cpu_features.cpp: see cpu_features.h. Always false off x86-64.
#include "tensor/cpu_features.h"

namespace cpurich {

bool cpu_has_avx512() {
#if defined(__x86_64__)
  // The *_avx512.cpp files are compiled with -mavx512f/bw/dq/vl, so check all.
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

bool cpu_has_f16c() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

}  // namespace cpurich
