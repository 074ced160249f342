#!/usr/bin/env bash
# The README's test command: set up, build (preset, default release), run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/setup.sh
cmake --preset "$preset" >/dev/null
if [ "$preset" = asan ]; then
  # The sanitizer run only needs what ctest runs (benches and lessons are
  # already compiled, with -Werror, by the release run).
  cmake --build --preset "$preset" --target cpurich_test_programs
else
  cmake --build --preset "$preset"
fi
ctest --preset "$preset"
