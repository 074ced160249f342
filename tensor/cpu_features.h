// cpu_features.h: which SIMD instruction sets this CPU can run.
//
// What it teaches: the binary is built for baseline x86-64 (or ARM), but the
// fast microkernels use AVX2 or AVX-512. We ask the CPU at run time (CPUID via
// GCC's __builtin_cpu_supports) and only then call code compiled for that ISA;
// on any other machine the portable C++ path runs instead of crashing with an
// illegal instruction.
//
// The environment variable CPURICH_SIMD=avx512|avx2|portable caps the answer
// (never raises it), so a machine with AVX-512 can run the AVX2 and portable
// paths of the hand-written dispatchers (GEMM microkernel, quantized matvec).
// The target_clones loops (tensor/kernels.h) are picked by the loader and
// follow the real CPU; every clone gives the same bits, and CI runs the whole
// suite under qemu's Haswell and Nehalem CPUs for a true no-AVX-512 machine.
#pragma once

namespace cpurich {

/// AVX-512 F (plus the DQ/BW/VL subsets our files are compiled with) is usable.
bool cpu_has_avx512();
/// AVX2 and FMA are usable.
bool cpu_has_avx2();
/// AVX-512 VNNI (vpdpbusd: u8 x s8 dot products into int32 lanes) is usable.
bool cpu_has_avx512_vnni();
/// F16C (vcvtph2ps: f16 -> f32 in hardware) is usable.
bool cpu_has_f16c();
/// The CPURICH_SIMD cap in force: "avx512" (no cap: unset or empty), "avx2" or
/// "portable"; throws std::invalid_argument for any other value.
const char* simd_cap();

}  // namespace cpurich
