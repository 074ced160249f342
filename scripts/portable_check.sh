#!/usr/bin/env bash
# portable_check.sh: the laptops people bring. CI (.ci/run) runs clang and
# noavx512; aarch64 is run by hand (its qemu test time is not settled yet).
#   clang     the whole tree with clang++ (-Wall -Wextra -Werror), then ctest
#   aarch64   cross-built with Debian's aarch64-linux-gnu toolchain, the test
#             programs run under qemu-aarch64 (ctest --preset aarch64)
#   noavx512  the x86 test programs of build/release on CPUs without AVX-512:
#             qemu-x86_64 -cpu Haswell (AVX2, FMA, F16C) and -cpu Nehalem
#             (SSE4.2 only) pick the narrower target_clones and dispatcher
#             paths as such a laptop would; then the areas that reach the
#             dispatchers natively with the CPURICH_SIMD cap at avx2 and portable
# Usage: scripts/portable_check.sh [clang] [aarch64] [noavx512]   (default: all)
# noavx512 needs build/release (scripts/test.sh release builds it).
set -euo pipefail
cd "$(dirname "$0")/.."

run_clang() {
  scripts/setup.sh --portable
  cmake --preset clang-release >/dev/null
  cmake --build --preset clang-release
  ctest --preset clang-release
}

# Emulation makes every test slower; the areas below are the library's
# numerical core plus its tokenizer and inference, and the rest (training
# loops, CLI round trips, serving, sweeps) is the same portable C++ on top of
# them. AARCH64_TESTS=all runs everything.
run_aarch64() {
  scripts/setup.sh --arm64
  cmake --preset aarch64 >/dev/null
  cmake --build --preset aarch64 --target cpurich_test_programs
  if [ "${AARCH64_TESTS:-subset}" = all ]; then
    ctest --preset aarch64
  else
    ctest --preset aarch64 -R '^(tensor|matmul|autograd|nn|tokenizer|infer)/'
  fi
}

# qemu's Haswell model lists features TCG does not emulate (pcid, TSX, ...);
# they are switched off so qemu does not warn about each one. OpenBLAS's own
# CPU detection reads qemu's Nehalem as a Haswell and then runs AVX2 code on
# it, so its core is named explicitly (OPENBLAS_CORETYPE) to match the CPU.
haswell="Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid"
nehalem="Nehalem,-x2apic"
run_noavx512() {
  scripts/setup.sh --portable
  local tests=build/release/tests
  [ -x $tests/test_tensor ] || { echo "portable_check: build/release first (scripts/test.sh release)" >&2; exit 1; }
  for cpu in "$haswell" "$nehalem"; do
    for area in tensor matmul infer; do
      echo "portable_check: test_$area on qemu -cpu ${cpu%%,*}"
      (cd $tests && OPENBLAS_CORETYPE=${cpu%%[-,]*} qemu-x86_64 -cpu "$cpu" ./test_$area --reporter compact)
    done
  done
  # The cap changes the GEMM microkernel and the quantized matvec: the areas
  # that reach them run natively once per cap.
  for cap in avx2 portable; do
    echo "portable_check: tensor, matmul, nn, infer with CPURICH_SIMD=$cap"
    CPURICH_SIMD=$cap ctest --preset release -R '^(tensor|matmul|nn|infer)/'
  done
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(clang aarch64 noavx512)
for step in "${steps[@]}"; do
  t0=$(date +%s)
  case "$step" in
    clang) run_clang ;;
    aarch64) run_aarch64 ;;
    noavx512) run_noavx512 ;;
    *) echo "portable_check: unknown step '$step' (clang, aarch64, noavx512)" >&2; exit 2 ;;
  esac
  echo "portable_check: $step took $(( $(date +%s) - t0 )) s"
done
