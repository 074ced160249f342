#!/usr/bin/env bash
# test_pipeline_quick.sh BUILD_DIR: the README's main job end to end, on a world
# and step counts smaller still than --quick, against an existing build
# (scripts/run_pipeline.sh --build-dir: no setup, no build). Checks the one-line
# errors of --text, then that report.json holds every figure the report promises.
# Exits 77 (skipped) without Debian's python3, which the pipeline's report needs.
set -euo pipefail
build=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x /usr/bin/python3 ] || exit 77
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A missing or empty --text file fails at once, in one line, with exit code 1.
expect_error() { # expect_error WORDS -- ARGS...
  local want=$1
  shift 2
  if "$root/scripts/run_pipeline.sh" "$@" > "$tmp/out" 2> "$tmp/err"; then
    echo "FAIL: run_pipeline.sh $* succeeded" >&2
    exit 1
  fi
  if [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -q "^run_pipeline.sh: error: .*$want" "$tmp/err"; then
    echo "FAIL: run_pipeline.sh $*: want one line with '$want', got:" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
}
expect_error "does not exist" -- --text "$tmp/no_such_file.txt" --build-dir "$build"
: > "$tmp/empty.txt"
expect_error "is empty" -- --text "$tmp/empty.txt" --build-dir "$build"
expect_error "unknown option" -- --fast

if ! CPURICH_PEOPLE=30 CPURICH_ITERS=60 CPURICH_FT_ITERS=10 CPURICH_QA_LIMIT=10 CPURICH_THREADS=1 \
  "$root/scripts/run_pipeline.sh" --quick --build-dir "$build" --out "$tmp/run" > "$tmp/log" 2>&1; then
  tail -n 30 "$tmp/log" >&2
  echo "FAIL: run_pipeline.sh --quick exited non-zero" >&2
  exit 1
fi
/usr/bin/python3 - "$tmp/run" <<'EOF'
import json, os, sys
run = sys.argv[1]
r = json.load(open(f"{run}/report.json"))
md = open(f"{run}/report.md").read()
def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: report: {what}")
for stage in ("pretrained", "finetuned", "quantized"):
    for key in ("train", "test", "unseen_hallucination"):
        v = r["qa"][stage][key]
        check(0.0 <= v <= 1.0, f"qa.{stage}.{key} = {v} is not a fraction")
check(isinstance(r["seconds_after_build"], int) and r["seconds_after_build"] >= 0, "seconds")
check(r["val_loss"] > 0, "val_loss")
a = r["adapter"]
check(a["bytes"] > 0 and 0 < a["trainable_share"] < 1, "adapter size / trainable share")
check(a["trainable_share"] == a["trainable_params"] / a["total_params"], "trainable share")
q = r["quantization"]
check(q["format"] == "q4_0" and 0 < q["file_bytes"] < q["fp32_file_bytes"], "4-bit size")
check(abs(q["delta_loss"] - (q["loss"] - q["loss_fp32"])) < 1e-9, "delta loss")
tps = r["decode_tokens_per_s"]
check(tps["fp32"] > 0 and tps["q4_0"] > 0, "decode tokens/s")
check(len(r["samples"]) >= 2, "two sample answers")
for s in r["samples"]:
    check(s["expected"] and "### Human" not in s["answer"] and "\n" not in s["answer"], f"sample {s}")
    check(s["expected"] in md, "expected answer in report.md")
check("validation loss" in md and "tokens/s" in md and "bytes" in md, "report.md figures")
check(("loss.png" in r["plots"]) == os.path.exists(f"{run}/loss.png"), "plots")
check(r["plots"] or r.get("plot_note"), "a plot or a note saying why not")
print("pipeline report ok:", json.dumps(r["qa"]["finetuned"]))
EOF
