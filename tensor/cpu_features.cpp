// cpu_features.cpp: see cpu_features.h. Always false off x86-64.
#include "tensor/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

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
  // clang's __builtin_cpu_supports does not know "f16c": read CPUID leaf 1,
  // ECX bit 29 (bit_F16C); "avx" adds the check that the OS saves YMM state.
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
#else
  return false;
#endif
}

}  // namespace cpurich
