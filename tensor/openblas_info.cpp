// openblas_info.cpp: the core OpenBLAS chose, against this CPU (see openblas_info.h).
#include "tensor/openblas_info.h"

#include <algorithm>
#include <cctype>

#include "tensor/matmul_peak.h"

#ifdef CPURICH_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace cpurich {

std::string openblas_core_isa(const std::string& core) {
  std::string lower = core;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // OpenBLAS's x86-64 kernel sets with AVX-512 and with AVX2 + FMA; every
  // other name (Sandybridge, Nehalem, Prescott, ...) is narrower.
  for (const char* name : {"skylakex", "cooperlake", "sapphirerapids"})
    if (lower.find(name) != std::string::npos) return "avx512";
  for (const char* name : {"haswell", "zen", "excavator"})
    if (lower.find(name) != std::string::npos) return "avx2";
  return "older";
}

OpenBlasInfo openblas_info() {
  OpenBlasInfo info;
  info.cpu_isa = fma_peak_isa();
#ifdef CPURICH_HAVE_OPENBLAS
  info.available = true;
  info.core = openblas_get_corename();
  info.config = openblas_get_config();
  info.core_isa = openblas_core_isa(info.core);
  const auto rank = [](const std::string& isa) {
    return isa == "avx512" ? 2 : isa == "avx2" ? 1 : 0;
  };
  info.slower_core = rank(info.core_isa) < rank(info.cpu_isa);
  if (info.slower_core) info.suggested_coretype = info.cpu_isa == "avx512" ? "SkylakeX" : "Haswell";
#endif
  return info;
}

}  // namespace cpurich
