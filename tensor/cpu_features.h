// cpu_features.h: which SIMD instruction sets this CPU can run.
//
// What it teaches: the binary is built for baseline x86-64 (or ARM), but the
// fast microkernels use AVX2 or AVX-512. We ask the CPU at run time (CPUID via
// GCC's __builtin_cpu_supports) and only then call code compiled for that ISA;
// on any other machine the portable C++ path runs instead of crashing with an
// illegal instruction.
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

}  // namespace cpurich
