// openblas_info.h: which OpenBLAS kernels the yardstick actually runs.
//
// What it teaches: a comparison with OpenBLAS is only fair if OpenBLAS runs
// the kernels this CPU supports. Debian builds OpenBLAS with DYNAMIC_ARCH: at
// start-up it picks a "core" (a kernel set) from the CPU model it recognises.
// On a CPU model newer than the library it may fall back to an older core
// (SSE or AVX2 kernels on an AVX-512 machine) without a word, and its GFLOP/s
// then says nothing about what the hardware can do. Setting the environment
// variable OPENBLAS_CORETYPE (e.g. SkylakeX) before the program starts forces
// a core. This part reads the chosen core and tells whether it is slower than
// the widest ISA this CPU has.
//
// Pipeline position: bench/gemm and lessons/02_matmul only (never the model).
#pragma once

#include <string>

namespace cpurich {

/// What OpenBLAS reports about itself, and how it compares with this CPU.
struct OpenBlasInfo {
  bool available = false;          ///< cpurich was built with OpenBLAS
  std::string core;                ///< openblas_get_corename(), e.g. "Haswell", "SkylakeX"
  std::string config;              ///< openblas_get_config(): version and build options
  std::string core_isa;            ///< widest vectors of that core: "avx512", "avx2" or "older"
  std::string cpu_isa;             ///< widest this CPU runs: "avx512", "avx2" or "portable"
  bool slower_core = false;        ///< the core uses narrower vectors than the CPU has
  std::string suggested_coretype;  ///< OPENBLAS_CORETYPE to set when slower_core ("" otherwise)
};

/// Queries the linked OpenBLAS (available = false without it).
OpenBlasInfo openblas_info();

/// The ISA level of an OpenBLAS core name (case-insensitive): "avx512",
/// "avx2" or "older".
std::string openblas_core_isa(const std::string& core);

}  // namespace cpurich
