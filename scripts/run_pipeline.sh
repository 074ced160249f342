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

# A new run replaces the previous pipeline model (pretrain refuses to overwrite a run).
rm -rf "$run/model"
step "3/7 pretrain the tiny GPT ($iters iterations, char tokenizer)"
"$cpurich" pretrain --corpus "$run/world/corpus.txt" --out "$run/model" --config tiny \
  --iters "$iters" --eval-every 250

step "4/7 loss curve"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 scripts/plot_loss.py "$run/model"
fi

step "5/7 evaluate on the corpus's last 10% (held-out text)"
tail -c 20000 "$run/world/corpus.txt" > "$run/heldout.txt"
"$cpurich" eval --model "$run/model" --text "$run/heldout.txt"

step "6/7 sample (the context window slides past the block size)"
"$cpurich" sample --model "$run/model" --prompt "### Human: Where was " --max-new-tokens 200 \
  --temperature 0.8 --top-k 20 --seed 1 --context slide

# Two questions the model saw answered during pretraining (a train person's Q/A).
field() { sed -n "${1}p" "$run/world/qa_train.jsonl" | sed -E "s/.*\"$2\":\"([^\"]*)\".*/\1/"; }
step "7/7 chat (two questions piped in; expected: '$(field 1 answer)' and '$(field 2 answer)')"
printf '%s\n%s\n' "$(field 1 question)" "$(field 2 question)" |
  "$cpurich" chat --model "$run/model" --max-new-tokens 60 --temperature 0 --seed 1
