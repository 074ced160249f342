#!/usr/bin/env bash
# llamacpp_check.sh: does llama.cpp run our exported GGUF files the way we do?
#
# Trains (or reuses) a tiny model on the built-in world corpus, one with the
# char tokenizer and one with byte-level BPE, exports each with `cpurich export` as f32, f16 and q8_0, and compares
# llama.cpp's greedy continuation of a prompt, token by token, with
# `cpurich sample --temperature 0`. Not part of CI: it needs node and the
# prebuilt llama.cpp that node-llama-cpp ships (no compiler needed):
#
#   mkdir -p $LLAMA_DIR && cd $LLAMA_DIR
#   NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install node-llama-cpp --omit=optional --ignore-scripts
#   npm install @node-llama-cpp/linux-x64
#
# For f16 and the block types the reference is `cpurich sample` on the weights
# the file stands for (decoded back into a model directory by
# scripts/gguf_to_model_dir.py), so a match means llama.cpp reads every byte
# as we meant it; the line also says how far it agrees with the F32 model.
#
# llama.cpp is driven through node-llama-cpp's API (load the model, tokenize
# the prompt, evaluate greedily with yieldEogToken so an end-of-text id does
# not stop it), with an F32 KV cache so the only differences left are the
# order of floating-point sums in the kernels (and, for q8_0, ggml's
# quantization of the activations in its q8_0 dot products).
#
# Usage: scripts/llamacpp_check.sh [RUN_DIR] [ITERS]
#   env: LLAMA_DIR (default /work/wt/llamacpp), CPURICH (the cpurich binary),
#        PROMPT, NEW_TOKENS, TYPES ("f32 f16 q8_0"), TOKENIZERS ("char bpe")
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$root/build/llamacpp_check}
iters=${2:-300}
cpurich=${CPURICH:-$root/build/release/cli/cpurich}
llama_dir=${LLAMA_DIR:-/work/wt/llamacpp}
prompt=${PROMPT:-"### Human: Where was "}
new_tokens=${NEW_TOKENS:-40}
types=${TYPES:-"f32 f16 q8_0"}
tokenizers=${TOKENIZERS:-"char bpe"}

[ -x "$cpurich" ] || { echo "build cpurich first ($cpurich)"; exit 1; }
[ -d "$llama_dir/node_modules/node-llama-cpp" ] || { echo "install node-llama-cpp in $llama_dir (see the header)"; exit 1; }
mkdir -p "$run"

[ -f "$run/world/corpus.txt" ] || "$cpurich" data world --out "$run/world"
for tok in $tokenizers; do
  if [ ! -f "$run/model-$tok/config.json" ]; then
    nice -n 19 "$cpurich" pretrain --corpus "$run/world/corpus.txt" --out "$run/model-$tok" \
      --config tiny --tokenizer "$tok" --iters "$iters" --eval-every "$iters" --threads 1
  fi
done

# node-llama-cpp is an ES module: the script must live where it can import it.
cat > "$llama_dir/greedy.mjs" <<'EOF'
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
const [modelPath, prompt, nNew] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({
  contextSize: model.trainContextSize, threads: 1, flashAttention: false,
  experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
const seq = context.getSequence();
const promptTokens = model.tokenize(prompt);
const tokens = [];
for await (const t of seq.evaluate(promptTokens, {temperature: 0, yieldEogToken: true})) {
  tokens.push(t);
  if (tokens.length >= Number(nNew)) break;
}
const text = tokens.map((t) => model.detokenize([t])).join("");
console.log(JSON.stringify({prompt_tokens: promptTokens, tokens, text}));
await llama.dispose();
EOF

printf '%s' "$prompt" > "$run/prompt.txt"
status=0
for tok in $tokenizers; do
  model="$run/model-$tok"
  ours=$("$cpurich" sample --model "$model" --prompt "$prompt" --temperature 0 \
    --max-new-tokens "$new_tokens" --json --threads 1)
  ours_prompt_ids=$("$cpurich" encode --model "$model" --text "$run/prompt.txt")
  echo "== $tok tokenizer; cpurich sample --temperature 0:"
  echo "   $(echo "$ours" | python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["text"]))')"
  for type in $types; do
    "$cpurich" export --model "$model" --out "$model.$type.gguf" --type "$type" 2>/dev/null
    theirs=$(cd "$llama_dir" && node greedy.mjs "$model.$type.gguf" "$prompt" "$new_tokens")
    # The fair reference for a lossy type: our decoder on the very weights the
    # file stands for (decoded from the file, scripts/gguf_to_model_dir.py).
    twin="$model"
    if [ "$type" != f32 ]; then
      twin="$model.$type.decoded"
      python3 "$root/scripts/gguf_to_model_dir.py" "$model.$type.gguf" "$model" "$twin"
    fi
    ours_twin=$("$cpurich" sample --model "$twin" --prompt "$prompt" --temperature 0 \
      --max-new-tokens "$new_tokens" --json --threads 1)
    OURS="$ours" TWIN="$ours_twin" THEIRS="$theirs" OURS_PROMPT="$ours_prompt_ids" TYPE="$type" \
      python3 - <<'EOF' || status=1
import json, os
ours, twin = json.loads(os.environ["OURS"])["text"], json.loads(os.environ["TWIN"])["text"]
theirs = json.loads(os.environ["THEIRS"])
t = os.environ["TYPE"]
prompt_ok = [int(x) for x in os.environ["OURS_PROMPT"].split()] == theirs["prompt_tokens"]
b = theirs["text"]
def same(a, b):
    if a == b:
        return "equal"
    n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    return f"equal for the first {n} of {len(a)} characters"
print(f"   llama.cpp {t:5s} {b!r}")
print(f"     prompt tokens {'equal' if prompt_ok else 'DIFFER'}; vs cpurich on the file's "
      f"weights: {same(twin, b)}; vs the F32 model: {same(ours, b)}")
raise SystemExit(0 if prompt_ok and twin == b else 1)
EOF
  done
done
exit $status
