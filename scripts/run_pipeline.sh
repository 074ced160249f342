#!/usr/bin/env bash
# The README's main job: set up, build, then run the whole pipeline on the
# built-in world corpus:
#   world corpus -> BPE tokenizer + pretrain -> qa-eval -> LoRA fine-tune on the train Q/A
#   -> qa-eval (train / test / unseen) -> merge + quantize to q4_0 -> compare + qa-eval
#   -> sample -> chat (the 4-bit model) -> report.md + report.json
# Everything lands in runs/pipeline/ (override with CPURICH_RUN_DIR). Meant to take
# under 10 minutes after the build on a 2-core machine; CPURICH_ITERS (pretraining
# steps) and CPURICH_FT_ITERS (fine-tuning steps) trade time for accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${CPURICH_RUN_DIR:-runs/pipeline}
iters=${CPURICH_ITERS:-12000}
ft_iters=${CPURICH_FT_ITERS:-300}
threads=${CPURICH_THREADS:-2}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
bin=build/release
cpurich=$bin/cli/cpurich
mkdir -p "$run"
t_build=$(date +%s)

step() { printf '\n== %s\n' "$*"; }
seconds() { echo $(($(date +%s) - t_build)); }

step "1/9 lessons 01-05: tensors, matmul, autograd, the GPT forward pass, tokenizers"
for lesson in 01_tensors 02_matmul 03_autograd 04_gpt_forward 05_tokenizers; do
  [ -x "$bin/lessons/$lesson" ] && "$bin/lessons/$lesson" > "$run/lesson_$lesson.txt" && echo "  $lesson -> $run/lesson_$lesson.txt"
done

# 500 people: 300 train, 100 test, 100 unseen, plus 30 absent people whose
# questions are answered "I don't know." in the fine-tuning set (docs/course/world.md;
# more abstention examples make the model abstain on people it knows, docs/knowledge_runs.md).
step "2/9 the built-in world corpus"
rm -rf "$run/world"
"$cpurich" data world --out "$run/world" --abstain-people 30

# A new run replaces the previous pipeline model (pretrain refuses to overwrite a run).
rm -rf "$run/model" "$run/adapter"
step "3/9 pretrain the world-preset GPT ($iters iterations, byte-level BPE tokenizer)"
t0=$(date +%s)
"$cpurich" pretrain --corpus "$run/world/corpus.txt" --out "$run/model" --config world \
  --iters "$iters" --eval-every 2000 --threads "$threads"
pretrain_s=$(($(date +%s) - t0))
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 scripts/plot_loss.py "$run/model" || true
fi

# At most 800 questions per group: all of test and unseen, the first 800 of train.
qa_eval() {  # qa_eval NAME MODEL_DIR [--adapter DIR]
  local name=$1 model=$2
  shift 2
  "$cpurich" qa-eval --model "$model" "$@" --data "$run/world" --group train --group test \
    --group unseen --limit 800 --json --threads "$threads" > "$run/qa_$name.json"
}
step "4/9 what did pretraining store? (greedy answers, exact match)"
qa_eval pretrained "$run/model"

step "5/9 LoRA fine-tune on the train Q/A and the abstention examples ($ft_iters steps)"
t0=$(date +%s)
"$cpurich" finetune --model "$run/model" --data "$run/world" --out "$run/adapter" --method lora \
  --iters "$ft_iters" --threads "$threads"
finetune_s=$(($(date +%s) - t0))

step "6/9 what can the fine-tuned model answer, and what does it make up?"
qa_eval finetuned "$run/model" --adapter "$run/adapter"

# The adapter is folded into the base (lora merge), and the merged model rounded
# to 4 bits (q4_0, ggml's blocks of 32: 4.5 bits per weight); compare measures
# what that costs on the last 20 kB of the corpus (loss, KL, same top-1).
step "7/9 quantize the fine-tuned model to 4 bits (q4_0) and measure the cost"
rm -rf "$run/merged" "$run/quantized"
"$cpurich" lora merge --model "$run/model" --adapter "$run/adapter" --out "$run/merged"
"$cpurich" quantize --model "$run/merged" --format q4_0 --out "$run/quantized"
tail -c 20000 "$run/world/corpus.txt" > "$run/compare_text.txt"
"$cpurich" compare --model "$run/merged" --text "$run/compare_text.txt" "$run/quantized" \
  --kl-tokens 512 --json --threads "$threads" > "$run/compare.json"
qa_eval quantized "$run/quantized"

step "8/9 sample and chat (the 4-bit model)"
"$cpurich" sample --model "$run/quantized" --prompt "### Human: Where was " --max-new-tokens 60 \
  --temperature 0.8 --top-k 20 --seed 1 --context slide
field() { sed -n "${1}p" "$run/world/$2" | sed -E "s/.*\"$3\":\"([^\"]*)\".*/\1/"; }
echo "expected: '$(field 1 qa_test.jsonl answer)' (a test person) and \"I don't know.\" (an unseen person)"
printf '%s\n%s\n' "$(field 1 qa_test.jsonl question)" "$(field 1 qa_unseen.jsonl question)" |
  "$cpurich" chat --model "$run/quantized" --max-new-tokens 30 \
    --temperature 0 --seed 1

step "9/9 report"
total_s=$(seconds)
/usr/bin/python3 - "$run" "$total_s" "$pretrain_s" "$finetune_s" "$iters" "$ft_iters" <<'EOF'
import json, sys
run, total, pre_s, ft_s, iters, ft_iters = sys.argv[1], *map(int, sys.argv[2:])
def group(stage, g):
    return json.load(open(f"{run}/qa_{stage}.json"))["groups"][g]
qa = {}
for stage in ("pretrained", "finetuned", "quantized"):
    tr, te, un = (group(stage, g) for g in ("train", "test", "unseen"))
    qa[stage] = {"train": tr["accuracy"], "test": te["accuracy"],
                 "unseen_hallucination": un["hallucination_rate"],
                 "over_abstention": (tr["abstained"] + te["abstained"]) / (tr["n"] + te["n"]),
                 "asked": {"train": tr["n"], "test": te["n"], "unseen": un["n"]}}
fp32, q4 = json.load(open(f"{run}/compare.json"))
quant = {"format": q4["format"], "bits_per_weight": q4["bits_per_weight"],
         "file_bytes": q4["file_bytes"], "fp32_file_bytes": fp32["file_bytes"],
         "loss_fp32": fp32["loss"], "loss": q4["loss"], "delta_loss_pct": q4["delta_loss_pct"],
         "kl_mean": q4["kl_mean"], "same_top1": q4["same_top1"]}
report = {"qa": qa, "quantization": quant, "seconds_after_build": total, "pretrain_seconds": pre_s,
          "finetune_seconds": ft_s, "pretrain_iters": iters, "finetune_iters": ft_iters}
json.dump(report, open(f"{run}/report.json", "w"), indent=2)
lines = ["# cpurich pipeline report", "",
         f"World: 500 people (300 train, 100 test, 100 unseen) + 30 abstention people; "
         f"pretrain {iters} steps ({pre_s} s), LoRA fine-tune {ft_iters} steps ({ft_s} s); "
         f"{total} s after the build.", "",
         "| model | train exact match | test exact match | unseen hallucination | over-abstention |",
         "|---|---|---|---|---|"]
for stage, r in qa.items():
    lines.append(f"| {stage} | {100*r['train']:.1f} % | {100*r['test']:.1f} % | "
                 f"{100*r['unseen_hallucination']:.1f} % | {100*r['over_abstention']:.1f} % |")
lines += ["", f"4-bit model ({quant['format']}, {quant['bits_per_weight']:.2f} bits/weight): "
          f"{quant['file_bytes']} bytes = {quant['file_bytes'] / quant['fp32_file_bytes']:.3f}x the fp32 file; "
          f"loss {quant['loss_fp32']:.4f} -> {quant['loss']:.4f} ({quant['delta_loss_pct']:+.2f} %), "
          f"KL mean {quant['kl_mean']:.4f}, same top-1 {100 * quant['same_top1']:.1f} %."]
open(f"{run}/report.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo "wrote $run/report.md and $run/report.json"
