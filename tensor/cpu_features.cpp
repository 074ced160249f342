// cpu_features.cpp: see cpu_features.h. Always false off x86-64.
#include "tensor/cpu_features.h"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace cpurich {
namespace {

// Widest path CPURICH_SIMD allows: 0 portable, 1 AVX2 (+FMA, F16C), 2 AVX-512.
int simd_cap_level() {
  static const int level = [] {
    const char* env = std::getenv("CPURICH_SIMD");
    const std::string_view v = env == nullptr ? "" : env;
    if (v.empty() || v == "avx512") return 2;
    if (v == "avx2") return 1;
    if (v == "portable") return 0;
    throw std::invalid_argument("CPURICH_SIMD must be avx512, avx2 or portable, got '" +
                                std::string(v) + "'");
  }();
  return level;
}

}  // namespace

const char* simd_cap() {
  static const char* const names[] = {"portable", "avx2", "avx512"};
  return names[simd_cap_level()];
}

bool cpu_has_avx512() {
#if defined(__x86_64__)
  // The *_avx512.cpp files are compiled with -mavx512f/bw/dq/vl, so check all.
  return simd_cap_level() >= 2 && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#if defined(__x86_64__)
  return simd_cap_level() >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  // Read from CPUID directly (leaf 7, subleaf 0: ECX bit 11) because clang's
  // __builtin_cpu_supports does not know "avx512vnni". The bit says the CPU
  // has the instructions; cpu_has_avx512() adds that the OS saves zmm state.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return cpu_has_avx512() && (ecx & (1u << 11)) != 0;
#else
  return false;
#endif
}

bool cpu_has_f16c() {
#if defined(__x86_64__)
  // CPUID leaf 1, ECX bit 29 (clang does not know "f16c" either); F16C is
  // VEX-encoded, so the OS must also save ymm state, which the "avx" check adds.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return simd_cap_level() >= 1 && __builtin_cpu_supports("avx") && (ecx & (1u << 29)) != 0;
#else
  return false;
#endif
}

}  // namespace cpurich
