#!/usr/bin/env bash
# The README's main job: set up, build, then run the whole pipeline on the
# built-in world corpus:  world corpus -> tokenizer -> pretrain -> eval -> sample -> chat.
# Everything lands in runs/pipeline/ (override with CPURICH_RUN_DIR). Takes a few
# minutes on a 2-core laptop; set CPURICH_ITERS to train longer or shorter.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${CPURICH_RUN_DIR:-runs/pipeline}
iters=${CPURICH_ITERS:-1500}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
bin=build/release
cpurich=$bin/cli/cpurich
mkdir -p "$run"

step() { printf '\n== %s\n' "$*"; }

step "1/7 lessons 01-05: tensors, matmul, autograd, the GPT forward pass, tokenizers"
for lesson in 01_tensors 02_matmul 03_autograd 04_gpt_forward 05_tokenizers; do
  [ -x "$bin/lessons/$lesson" ] && "$bin/lessons/$lesson" > "$run/lesson_$lesson.txt" && echo "  $lesson -> $run/lesson_$lesson.txt"
done

step "2/7 the built-in world corpus"
"$cpurich" data world --out "$run/world"

step "3/7 pretrain the tiny GPT ($iters iterations, char tokenizer)"
"$cpurich" pretrain --corpus "$run/world/corpus.txt" --out "$run/model" --config tiny \
  --iters "$iters" --eval-every 250

step "4/7 loss curve"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 scripts/plot_loss.py "$run/model" && echo "  $run/model/loss.png"
fi

step "5/7 evaluate on the corpus's last 10% (held-out text)"
tail -c 20000 "$run/world/corpus.txt" > "$run/heldout.txt"
"$cpurich" eval --model "$run/model" --text "$run/heldout.txt"

step "6/7 sample"
"$cpurich" sample --model "$run/model" --prompt "### Human: Where was " --max-new-tokens 200 \
  --temperature 0.8 --top-k 20 --seed 1

step "7/7 chat (two questions piped in)"
printf 'What does Mira Kovan do for a living?\nWhere was she born?\n' |
  "$cpurich" chat --model "$run/model" --max-new-tokens 80 --temperature 0.5 --seed 1
