#!/usr/bin/env bash
# openai_client_check.sh: `cpurich serve` against the official OpenAI Node SDK.
#
# Makes a tiny random-weight model directory (`cpurich init` + a char
# tokenizer over printable ASCII), starts `cpurich serve` on it on a free
# loopback port with --api-key, installs the npm package `openai` into a
# scratch directory if it is not there yet, runs
# scripts/openai_client_check.mjs (models, completions, chat, streaming equal
# to non-streaming, errors as the SDK's APIError classes), and stops the
# server. Not part of ctest / CI: it needs node, npm and the npm registry.
#
# Usage: scripts/openai_client_check.sh
#   env: CPURICH (the cpurich binary, default build/release/cli/cpurich),
#        OPENAI_NODE_DIR (where `openai` is installed, default build/openai-node)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cpurich=${CPURICH:-$root/build/release/cli/cpurich}
npm_dir=${OPENAI_NODE_DIR:-$root/build/openai-node}
[ -x "$cpurich" ] || { echo "build cpurich first ($cpurich)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "needs node and npm" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$npm_dir/node_modules/openai/package.json" ]; then
  npm install --prefix "$npm_dir" --no-audit --no-fund openai >&2
fi
echo "openai (Node SDK) $(node -p "require('$npm_dir/node_modules/openai/package.json').version")"

# A model the SDK can talk to: random weights, a vocabulary of newline and the
# 95 printable ASCII characters (so any ASCII prompt encodes).
model=$work/tiny
"$cpurich" init --out "$model" --n-layer 2 --n-head 2 --n-embd 64 --block 128 --vocab 96 >/dev/null
node -e 'let s = "\n"; for (let c = 32; c < 127; ++c) s += String.fromCharCode(c);
         require("fs").writeFileSync(process.argv[1], s)' "$work/ascii.txt"
"$cpurich" tokenizer train --corpus "$work/ascii.txt" --kind char --out "$model/tokenizer.json" >/dev/null

key=check-$RANDOM$RANDOM
"$cpurich" serve --model "$model" --port 0 --api-key "$key" --threads 1 2>"$work/serve.log" &
pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/serve.log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "the server printed no port" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "cpurich serve on 127.0.0.1:$port"

# The .mjs imports 'openai', which node resolves from the script's own directory.
cp "$root/scripts/openai_client_check.mjs" "$npm_dir/"
status=0
CPURICH_BASE_URL="http://127.0.0.1:$port/v1" CPURICH_API_KEY="$key" CPURICH_MODEL=tiny \
  node "$npm_dir/openai_client_check.mjs" || status=$?
kill -TERM "$pid"
wait "$pid" || status=1
pid=""
grep -q "cpurich serve: stopped" "$work/serve.log" || { echo "no clean shutdown" >&2; status=1; }
exit $status
