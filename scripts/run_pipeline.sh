#!/usr/bin/env bash
# The README's main job: set up, build, then run the whole pipeline on the
# built-in world corpus:
#   world corpus -> BPE tokenizer + pretrain -> qa-eval -> LoRA fine-tune on the train Q/A
#   -> qa-eval (train / test / unseen) -> merge + quantize to q4_0 -> compare + qa-eval
#   -> sample -> chat (the 4-bit model) -> report (screen, report.md, report.json, loss.png)
#
#   scripts/run_pipeline.sh [--quick] [--text FILE] [--build-dir DIR] [--out DIR]
#
# --quick         a smaller world and fewer steps: every stage and the report in
#                 about 2 minutes after the build on 2 cores (the figures are
#                 those of a briefly trained model)
# --text FILE     pretrain on FILE instead of the world: tokenizer + pretrain ->
#                 quantize -> compare -> sample; the Q/A stages (qa-eval,
#                 fine-tune, chat) are skipped and the report says so
# --build-dir DIR use the cpurich already built in DIR (e.g. build/release): no
#                 setup, no build
# --out DIR       where everything lands (default runs/pipeline, or CPURICH_RUN_DIR)
#
# The full run is meant to take under 10 minutes after the build on a 2-core
# machine. CPURICH_ITERS (pretraining steps), CPURICH_FT_ITERS (fine-tuning
# steps), CPURICH_PEOPLE (world size), CPURICH_QA_LIMIT (questions asked per
# group) and CPURICH_THREADS override the mode's values.
set -euo pipefail
die() {
  echo "run_pipeline.sh: error: $*" >&2
  exit 1
}
usage() { sed -n '8,/^# --out/s/^# \{0,1\}//p' "$0"; }

quick=0 text="" build_dir="" out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --text | --build-dir | --out)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi
      case $1 in
        --text) text=$2 ;;
        --build-dir) build_dir=$2 ;;
        --out) out=$2 ;;
      esac
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option '$1' (scripts/run_pipeline.sh --help lists the options)" ;;
  esac
  shift
done
# Paths given on the command line are relative to where the script was called from.
if [ -n "$text" ]; then
  [ -e "$text" ] || die "--text: '$text' does not exist"
  [ -f "$text" ] || die "--text: '$text' is not a regular file"
  [ -r "$text" ] || die "--text: '$text' is not readable"
  [ -s "$text" ] || die "--text: '$text' is empty"
  text=$(realpath "$text")
fi
if [ -n "$build_dir" ]; then
  [ -x "$build_dir/cli/cpurich" ] || die "--build-dir: no cpurich at '$build_dir/cli/cpurich'"
  build_dir=$(realpath "$build_dir")
fi
[ -z "$out" ] || out=$(realpath -m "$out")
cd "$(dirname "$0")/.."
run=${out:-${CPURICH_RUN_DIR:-runs/pipeline}}

# Mode settings. The full world is 500 people (300 train, 100 test, 100 unseen)
# plus 30 absent people whose questions are answered "I don't know." in the
# fine-tuning set (docs/course/world.md; more abstention examples make the model
# abstain on people it knows, docs/knowledge_runs.md). --quick keeps the same
# shares of a 100-person world and asks at most 100 questions per group.
if [ "$quick" = 1 ]; then
  mode=quick people=100 abstain=6 iters=1500 ft_iters=100 qa_limit=100 eval_every=500
else
  mode=full people=500 abstain=30 iters=12000 ft_iters=300 qa_limit=800 eval_every=2000
fi
if [ -n "$text" ]; then
  mode=text
  [ "$quick" = 0 ] || mode="text-quick"
fi
people=${CPURICH_PEOPLE:-$people}
iters=${CPURICH_ITERS:-$iters}
ft_iters=${CPURICH_FT_ITERS:-$ft_iters}
qa_limit=${CPURICH_QA_LIMIT:-$qa_limit}
threads=${CPURICH_THREADS:-2}
[ "$eval_every" -le "$iters" ] || eval_every=$iters

if [ -n "$build_dir" ]; then
  bin=$build_dir
else
  scripts/setup.sh
  cmake --preset release >/dev/null
  cmake --build --preset release
  bin=build/release
fi
cpurich=$bin/cli/cpurich
mkdir -p "$run"
rm -f "$run/report.md" "$run/report.json" "$run/loss.png"
t_build=$(date +%s)

step() { printf '\n== %s\n' "$*"; }
if [ -n "$text" ]; then n_steps=6; else n_steps=9; fi
k=0
next() {
  k=$((k + 1))
  step "$k/$n_steps $*"
}

next "lessons 01-05: tensors, matmul, autograd, the GPT forward pass, tokenizers"
for lesson in 01_tensors 02_matmul 03_autograd 04_gpt_forward 05_tokenizers; do
  [ -x "$bin/lessons/$lesson" ] && "$bin/lessons/$lesson" > "$run/lesson_$lesson.txt" && echo "  $lesson -> $run/lesson_$lesson.txt"
done

if [ -n "$text" ]; then
  corpus=$text
  next "the corpus: $text ($(wc -c < "$text") bytes; no Q/A, so no fine-tuning)"
else
  next "the built-in world corpus ($people people + $abstain abstention people)"
  rm -rf "$run/world"
  "$cpurich" data world --out "$run/world" --people "$people" --abstain-people "$abstain"
  corpus=$run/world/corpus.txt
fi

# A new run replaces the previous pipeline model (pretrain refuses to overwrite a run).
rm -rf "$run/model" "$run/adapter" "$run/merged" "$run/quantized"
next "pretrain the world-preset GPT ($iters iterations, byte-level BPE tokenizer)"
t0=$(date +%s)
"$cpurich" pretrain --corpus "$corpus" --out "$run/model" --config world \
  --iters "$iters" --eval-every "$eval_every" --threads "$threads"
pretrain_s=$(($(date +%s) - t0))
# The loss curve beside the report; the pipeline goes on without it.
plot_note=""
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  if /usr/bin/python3 scripts/plot_loss.py "$run/model" >/dev/null; then
    cp "$run/model/loss.png" "$run/loss.png"
  else
    plot_note="plot_loss.py failed: no loss curve"
  fi
else
  plot_note="no loss curve: Debian's python3-matplotlib is not installed"
fi

qa_eval() { # qa_eval NAME MODEL_DIR [--adapter DIR]: at most qa_limit questions per group
  local name=$1 model=$2
  shift 2
  "$cpurich" qa-eval --model "$model" "$@" --data "$run/world" --group train --group test \
    --group unseen --limit "$qa_limit" --json --threads "$threads" > "$run/qa_$name.json"
}
rm -f "$run"/qa_*.json "$run/finetune.json" "$run/chat_answers.txt"
if [ -z "$text" ]; then
  next "what did pretraining store? (greedy answers, exact match)"
  qa_eval pretrained "$run/model"

  next "LoRA fine-tune on the train Q/A and the abstention examples ($ft_iters steps)"
  t0=$(date +%s)
  "$cpurich" finetune --model "$run/model" --data "$run/world" --out "$run/adapter" --method lora \
    --iters "$ft_iters" --threads "$threads" --json > "$run/finetune.json"
  finetune_s=$(($(date +%s) - t0))

  next "what can the fine-tuned model answer, and what does it make up?"
  qa_eval finetuned "$run/model" --adapter "$run/adapter"
fi

# The adapter is folded into the base (lora merge), and the merged model rounded
# to 4 bits (q4_0, ggml's blocks of 32: 4.5 bits per weight); compare measures
# what that costs on the last 20 kB of the corpus (loss, KL, same top-1) and
# times greedy decoding of both.
next "quantize the $([ -n "$text" ] && echo pretrained || echo fine-tuned) model to 4 bits (q4_0) and measure the cost"
if [ -n "$text" ]; then
  fp32=$run/model
else
  "$cpurich" lora merge --model "$run/model" --adapter "$run/adapter" --out "$run/merged"
  fp32=$run/merged
fi
"$cpurich" quantize --model "$fp32" --format q4_0 --out "$run/quantized"
tail -c 20000 "$corpus" > "$run/compare_text.txt"
"$cpurich" compare --model "$fp32" --text "$run/compare_text.txt" "$run/quantized" \
  --kl-tokens 512 --decode-tokens 128 --json --threads "$threads" > "$run/compare.json"
[ -n "$text" ] || qa_eval quantized "$run/quantized"

if [ -n "$text" ]; then
  next "sample from the 4-bit model"
  # The prompt: the first words of the text's first non-blank line.
  prompt=$(awk 'NF { print; exit }' "$text" | cut -d' ' -f1-4)
  "$cpurich" sample --model "$run/quantized" --prompt "$prompt" --max-new-tokens 80 \
    --temperature 0.8 --top-k 20 --seed 1 --context slide 2> "$run/sample_stats.txt" |
    tee "$run/sample.txt" || die "cpurich sample failed: $(cat "$run/sample_stats.txt")"
  cat "$run/sample_stats.txt"
else
  next "sample and chat (the 4-bit model)"
  "$cpurich" sample --model "$run/quantized" --prompt "### Human: Where was " --max-new-tokens 60 \
    --temperature 0.8 --top-k 20 --seed 1 --context slide 2> "$run/sample_stats.txt" |
    tee "$run/sample.txt" || die "cpurich sample failed: $(cat "$run/sample_stats.txt")"
  cat "$run/sample_stats.txt"
  # Two test people's questions (two people, two attributes) and an unseen
  # person's, whose ideal answer is "I don't know." (the model never read about
  # them), one chat turn each; the replies go into the report.
  /usr/bin/python3 - "$run/world" > "$run/chat_questions.jsonl" <<'EOF'
import json, sys
d = sys.argv[1]
def rows(name):
    return [json.loads(l) for l in open(f"{d}/{name}", encoding="utf-8") if l.strip()]
test, unseen = rows("qa_test.jsonl"), rows("qa_unseen.jsonl")
second = next((r for r in test if r["person"] != test[0]["person"]
               and r["attribute"] != test[0]["attribute"]), test[-1])
for group, r, expected in (("test", test[0], test[0]["answer"]), ("test", second, second["answer"]),
                           ("unseen", unseen[0], "I don't know.")):
    print(json.dumps({"group": group, "question": r["question"], "expected": expected}))
EOF
  /usr/bin/python3 -c 'import json, sys
for l in sys.stdin: print(json.loads(l)["question"])' < "$run/chat_questions.jsonl" |
    "$cpurich" chat --model "$run/quantized" --max-new-tokens 30 --temperature 0 --seed 1 \
      --threads "$threads" > "$run/chat_answers.txt"
  paste -d'\n' <(/usr/bin/python3 -c 'import json, sys
for l in sys.stdin: r = json.loads(l); print("> " + r["question"] + "   (expected: " + r["expected"] + ")")' \
    < "$run/chat_questions.jsonl") "$run/chat_answers.txt"
fi

next "report"
/usr/bin/python3 scripts/pipeline_report.py "$run" --mode "$mode" --corpus "$corpus" \
  --seconds "$(($(date +%s) - t_build))" --pretrain-seconds "$pretrain_s" \
  --finetune-seconds "${finetune_s:-0}" --iters "$iters" --ft-iters "$ft_iters" \
  --people "$people" --abstain-people "$abstain" --plot-note "$plot_note"
echo "wrote $run/report.md and $run/report.json"
