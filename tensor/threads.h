// threads.h: one knob for every thread pool in the process.
//
// cpurich's own kernels use its thread pool (parallel.h); the reference
// backend uses OpenBLAS's. If both ran at full width we would oversubscribe
// the cores, so this one setting sets both. It is read from CPURICH_THREADS at start-up and
// from --threads on every command line (which wins).
#pragma once

namespace cpurich {

/// Sets the pool's and OpenBLAS's thread counts (n >= 1). The pool never
/// uses more than usable_cores() whatever n is.
void set_num_threads(int n);
/// The current setting (defaults to CPURICH_THREADS, else usable_cores()).
int num_threads();
/// Applies CPURICH_THREADS if set; throws std::invalid_argument on a bad value.
void init_threads_from_env();

}  // namespace cpurich
