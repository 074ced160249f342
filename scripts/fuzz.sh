#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (one per parser of untrusted files), built with
# the `fuzz` preset (clang, ASan + UBSan) and run one at a time, single process.
#   scripts/fuzz.sh TARGET SECONDS      fuzz one target (e.g. safetensors) for SECONDS;
#                                       it starts from fuzz/corpus/TARGET and keeps
#                                       what it finds in build/fuzz/corpus/TARGET
#   scripts/fuzz.sh --regress [SECONDS] every target over its seed corpus, then
#                                       SECONDS (default 3) of new inputs each (CI)
#   scripts/fuzz.sh --list              the targets
# A crash stops the run and leaves its input in build/fuzz/artifacts/: fix the
# loader, then copy the input into fuzz/corpus/TARGET/ as a regression case.
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-jobs=2).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=$(sed -n 's/^cpurich_fuzz_target(\([a-z0-9_]*\).*/\1/p' fuzz/CMakeLists.txt)
if [ "${1:-}" = --list ]; then echo "$targets"; exit 0; fi

scripts/setup.sh --fuzz
[ -f build/fuzz/build.ninja ] || cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" >/dev/null

mkdir -p build/fuzz/artifacts
# run TARGET SECONDS CORPUS_DIR...: libFuzzer with the limits every run uses
# (2 GB of memory, 10 s per input); its summary lines only.
run() {
  local t=$1 seconds=$2
  shift 2
  build/fuzz/fuzz/fuzz_"$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/"$t"- ${FUZZ_FLAGS:-} "$@" 2>&1 |
    { grep -E '^(stat::|==|SUMMARY|INFO: Seed|Done|#[0-9]+ *DONE)|ERROR|Test unit written' || true; }
  return "${PIPESTATUS[0]}"
}

if [ "${1:-}" = --regress ]; then
  seconds=${2:-3}
  start=$(date +%s)
  for t in $targets; do
    echo "fuzz: $t"
    # Every seed once (regression cases included), then new inputs in a scratch corpus.
    build/fuzz/fuzz/fuzz_"$t" -runs=0 -rss_limit_mb=2048 -timeout=10 fuzz/corpus/"$t" >/dev/null 2>&1 ||
      { echo "fuzz: $t fails on its seed corpus:"; build/fuzz/fuzz/fuzz_"$t" -runs=0 fuzz/corpus/"$t" 2>&1 | tail -30; exit 1; }
    scratch=$(mktemp -d)
    run "$t" "$seconds" "$scratch" fuzz/corpus/"$t" || { rm -rf "$scratch"; exit 1; }
    rm -rf "$scratch"
  done
  echo "fuzz: regression pass over $(echo "$targets" | wc -w) targets in $(( $(date +%s) - start )) s"
  exit 0
fi

[ $# -eq 2 ] || { sed -n '2,12p' "$0"; exit 1; }
t=${1#fuzz_}
echo "$targets" | grep -qx "$t" || { echo "fuzz: unknown target $t (scripts/fuzz.sh --list)"; exit 1; }
mkdir -p build/fuzz/corpus/"$t"
run "$t" "$2" build/fuzz/corpus/"$t" fuzz/corpus/"$t"
