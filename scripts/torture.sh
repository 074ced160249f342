#!/usr/bin/env bash
# torture.sh: crash consistency of training, measured. Kills `cpurich pretrain`
# and `cpurich finetune` (lora and full) with SIGKILL at random moments (a step
# drawn at random among those left, seen in the run's log, then 0-9 ms more),
# many times, resuming after each kill, and checks that every tortured run ends with
# weights bitwise equal (cmp) to an uninterrupted run of the same seed.
# Checkpoints come every 2 steps on a tiny model, so many kills land inside a
# checkpoint write (counted: a kill that leaves DIR/.staging or a temporary
# file behind). Then the full-disk, read-only and second-writer cases, on a
# small tmpfs when this runs as root and may mount one (skipped with a note
# otherwise):
#   ENOSPC     the disk fills before a save: one error line naming the path,
#              the previous checkpoint byte-identical and resumable
#   read-only  the run directory remounted read-only: one error line, nothing changed
#   lock       a second writer of a live run is refused; after the first is
#              killed with SIGKILL the directory is free at once
#
#   scripts/torture.sh [--kills N] [--rounds R] [--iters N] [--seed S] [--cli PATH] [--keep]
#     --kills   kills per tortured run (default 4)
#     --rounds  tortured runs per command (pretrain, finetune lora, finetune full; default 3)
#     --iters   optimizer steps per run (default 120)
#     --seed    seed of the kill moments (default 1)
#
# Prints one line per tortured run and a summary:
#   kills K (inside a save S), resumes R, equal E/T; enospc ok; read-only ok; lock ok
# Exit 0 only when every run is equal and every disk case behaves.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

kills=4 rounds=3 iters=120 seed=1 keep=0
cli=build/release/cli/cpurich
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--kills N] [--rounds R] [--iters N] [--seed S] [--cli PATH] [--keep]" >&2; exit 2 ;;
  esac
done
[ -x "$cli" ] || { echo "torture: $cli not built (cmake --build --preset release)" >&2; exit 2; }
cli=$(realpath "$cli")
RANDOM=$seed  # the same kill moments for the same seed

work=$(mktemp -d /tmp/cpurich_torture.XXXXXX)
mnt="$work/mnt"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
  if [ "$keep" = 1 ]; then echo "torture: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A corpus with every character of the Q/A set and its chat template, so the
# pretrained char tokenizer can encode the fine-tuning data.
qa='{"question":"Where was Ann born?","answer":"Ironvale"}
{"question":"Where was Cy born?","answer":"Port Amberly"}
{"question":"What does Ann do?","answer":"baker"}
{"question":"What does Cy do?","answer":"pilot"}'
printf '%s\n' "$qa" >"$work/qa.jsonl"
{ for _ in $(seq 300); do printf 'the cat sat on the mat. a dog ran by. '; done
  printf '### Human: ### Assistant:\n%s\n' "$qa"; } >"$work/corpus.txt"

shape=(--n-layer 1 --n-embd 32 --n-head 2 --block 96 --batch 8 --dropout 0.1
       --eval-every 2 --eval-iters 1 --seed 3 --threads 1)
pretrain_args() {  # OUT [--resume]
  if [ "${2:-}" = --resume ]; then
    echo pretrain --corpus "$work/corpus.txt" --out "$1" --resume "$1" --threads 1
  else
    echo pretrain --corpus "$work/corpus.txt" --out "$1" --iters "$iters" "${shape[@]}"
  fi
}
# shellcheck disable=SC2086  # ${3:-}: the optional --resume, absent when empty
finetune_args() {  # METHOD OUT [--resume]
  echo finetune --model "$work/base" --data "$work/qa.jsonl" --out "$2" --method "$1" \
    --rank 2 --dropout 0.1 --iters "$iters" --batch 2 --save-every 2 --log-every 1 --seed 4 --threads 1 ${3:-}
}

# Seconds since the epoch, with fractions (to time the reference runs).
now() { date +%s.%N; }
# The last step a JSON-lines training log records (0 without one).
logged_iter() {
  local it
  it=$(tail -c 300 "$1" 2>/dev/null | grep -o '"iter":[0-9]*' | tail -1 | grep -o '[0-9]*$')
  echo "${it:-0}"
}

total_kills=0 save_kills=0 total_resumes=0 equal=0 runs=0 failures=0
declare -A cmd_kills cmd_resumes cmd_equal cmd_runs  # per command: pretrain, finetune_lora, finetune_full

# torture NAME STATE_FILE LOG WEIGHTS REF ARGS_FN...: one tortured run against the reference REF
torture() {
  local name=$1 state=$2 log=$3 weights=$4 ref=$5; shift 5
  local out="$work/t_$name" k=0 in_save=0 resumes=0 rc
  rm -rf "$out"
  while :; do
    local args
    if [ -f "$out/$state" ]; then
      args=$("$@" "$out" --resume); resumes=$((resumes + 1))
    else
      rm -rf "$out"  # killed before its first checkpoint: start again
      args=$("$@" "$out")
    fi
    # shellcheck disable=SC2086
    "$cli" $args >/dev/null 2>"$work/err" &
    local pid=$!
    if [ "$k" -lt "$kills" ]; then
      # A random moment of the run: a step drawn uniformly from those left (the
      # one it resumes at: during start-up), reached by polling the log, then
      # 0-9 ms more, which lands anywhere in a step or a checkpoint write.
      local done_steps target
      done_steps=$(logged_iter "$out/$log")  # before the resumed run drops its redone lines
      local left=$(( iters > done_steps ? iters - done_steps : 1 ))  # killed after its last step
      target=$(( done_steps + (RANDOM * 32768 + RANDOM) % left ))
      while kill -0 "$pid" 2>/dev/null; do
        [ "$(logged_iter "$out/$log")" -ge "$target" ] && break
        sleep 0.005
      done
      sleep "0.00$((RANDOM % 10))"
      kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null; rc=$?
    if [ "$rc" -eq 137 ]; then
      k=$((k + 1))
      if [ -d "$out/.staging" ] || compgen -G "$out/*.tmp.*" >/dev/null; then in_save=$((in_save + 1)); fi
      continue
    fi
    if [ "$rc" -ne 0 ]; then
      echo "torture: $name: exit $rc: $(tail -1 "$work/err")"; failures=$((failures + 1)); return
    fi
    break
  done
  local verdict=DIFFERENT same=0
  if cmp -s "$out/$weights" "$ref/$weights"; then verdict=equal same=1; equal=$((equal + 1)); fi
  runs=$((runs + 1)) total_kills=$((total_kills + k)) save_kills=$((save_kills + in_save))
  total_resumes=$((total_resumes + resumes))
  local cmd=${name%_*}
  cmd_kills[$cmd]=$(( ${cmd_kills[$cmd]:-0} + k )) cmd_resumes[$cmd]=$(( ${cmd_resumes[$cmd]:-0} + resumes ))
  cmd_runs[$cmd]=$(( ${cmd_runs[$cmd]:-0} + 1 ))
  cmd_equal[$cmd]=$(( ${cmd_equal[$cmd]:-0} + same ))
  echo "torture: $name: $k kills ($in_save inside a save), $resumes resumes, final $weights $verdict"
}

# Milliseconds a command takes uninterrupted (the reference runs).
timed() {
  local t0; t0=$(now)
  # shellcheck disable=SC2068
  "$cli" $@ >/dev/null 2>"$work/err" || { echo "torture: reference run failed: $(tail -1 "$work/err")" >&2; exit 1; }
  echo "$(now) $t0" | awk '{printf "%d", ($1 - $2) * 1000}'
}

echo "torture: $cli, $iters steps per run, a checkpoint every 2, $kills kills x $rounds rounds per command"
w_pre=$(timed "$(pretrain_args "$work/base")")
w_lora=$(timed "$(finetune_args lora "$work/ref_lora")")
w_full=$(timed "$(finetune_args full "$work/ref_full")")
echo "torture: uninterrupted runs: pretrain ${w_pre} ms, finetune lora ${w_lora} ms, full ${w_full} ms"
for r in $(seq "$rounds"); do
  torture "pretrain_$r" train_state.json log.jsonl model.safetensors "$work/base" pretrain_args
  torture "finetune_lora_$r" finetune_state.json finetune_log.jsonl adapter_model.safetensors \
    "$work/ref_lora" finetune_args lora
  torture "finetune_full_$r" finetune_state.json finetune_log.jsonl model.safetensors \
    "$work/ref_full" finetune_args full
done

# ---- full disk, read-only directory, second writer (tmpfs) -------------------
disk="skipped (cannot mount a tmpfs: not root?)" ro="skipped" lock="skipped"
one_line_error() {  # FILE PATTERN: one error line, the last, with the project's prefix, naming PATTERN
  [ "$(grep -c '^cpurich: error: ' "$1")" -eq 1 ] && tail -1 "$1" | grep -q "^cpurich: error: .*$2"
}
snapshot() { (cd "$1" && sha256sum train_state.json model.safetensors optimizer.safetensors config.json tokenizer.json); }
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null; then
  run="$mnt/run"
  # shellcheck disable=SC2046
  "$cli" $(pretrain_args "$run") >/dev/null 2>&1
  before=$(snapshot "$run")
  # Fill the disk but for 48 KB: the log still takes its lines, a checkpoint
  # (staged weights + moments, about 200 KB) does not fit.
  dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
  free_kb=48; truncate -s "-$((free_kb * 1024))" "$mnt/fill"
  "$cli" pretrain --corpus "$work/corpus.txt" --out "$run" --resume "$run" --iters $((iters + 20)) \
    --threads 1 >/dev/null 2>"$work/err"; rc=$?
  if [ "$rc" -eq 1 ] && one_line_error "$work/err" "$run/.*No space left on device" &&
     [ "$(snapshot "$run")" = "$before" ] && [ ! -d "$run/.staging" ]; then
    rm -f "$mnt/fill"
    if "$cli" pretrain --corpus "$work/corpus.txt" --out "$run" --resume "$run" --iters $((iters + 20)) \
         --threads 1 >/dev/null 2>&1; then disk="ok"; else disk="FAILED (no resume after freeing space)"; fi
  else
    disk="FAILED (exit $rc: $(tail -1 "$work/err"))"
  fi
  echo "torture: ENOSPC: $(tail -1 "$work/err")"
  # Fine-tuning on a disk with room for one checkpoint but not for the staged
  # copy of the next: the save of step 4 fails, step 2's stays; once there is
  # room again, --resume finishes bitwise equal to the uninterrupted run.
  rm -f "$mnt/fill"
  ft="$mnt/ft"
  ckpt_kb=$(du -ck "$work/ref_full"/{trainable,optimizer}.safetensors | tail -1 | cut -f1)
  dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
  truncate -s "-$(( (ckpt_kb * 3 / 2 + 64) * 1024 ))" "$mnt/fill"
  # shellcheck disable=SC2046
  "$cli" $(finetune_args full "$ft") >/dev/null 2>"$work/err"; rc=$?
  echo "torture: ENOSPC (finetune): $(tail -1 "$work/err")"
  saved_iter=$(grep -o '"iter": [0-9]*' "$ft/finetune_state.json" 2>/dev/null | grep -o '[0-9]*$')
  rm -f "$mnt/fill"
  if [ "$rc" -eq 1 ] && one_line_error "$work/err" "$ft/.*No space left on device" &&
     [ "${saved_iter:-0}" -ge 2 ] && [ ! -d "$ft/.staging" ]; then
    # shellcheck disable=SC2046
    if "$cli" $(finetune_args full "$ft" --resume) >/dev/null 2>&1 &&
       cmp -s "$ft/model.safetensors" "$work/ref_full/model.safetensors"; then :; else
      disk="FAILED (finetune: resume after ENOSPC not equal)"
    fi
  else
    disk="FAILED (finetune: exit $rc, checkpoint step ${saved_iter:-none})"
  fi
  rm -rf "$ft"

  # Read-only: the same tmpfs remounted read-only under the finished run.
  before=$(snapshot "$run")
  if mount -o remount,ro "$mnt" 2>/dev/null; then
    "$cli" pretrain --corpus "$work/corpus.txt" --out "$run" --resume "$run" --iters $((iters + 40)) \
      --threads 1 >/dev/null 2>"$work/err"; rc=$?
    if [ "$rc" -eq 1 ] && one_line_error "$work/err" "$run/.*Read-only file system" &&
       [ "$(snapshot "$run")" = "$before" ]; then ro="ok"; else ro="FAILED (exit $rc: $(tail -1 "$work/err"))"; fi
    echo "torture: read-only: $(tail -1 "$work/err")"
    mount -o remount,rw "$mnt"
  fi

  # Two writers: the second is refused while the first lives, admitted once it is killed.
  long="$mnt/long"
  "$cli" pretrain --corpus "$work/corpus.txt" --out "$long" --iters 1000000 "${shape[@]}" \
    >/dev/null 2>&1 &
  first=$!
  for _ in $(seq 500); do [ -f "$long/train_state.json" ] && break; sleep 0.02; done
  "$cli" pretrain --corpus "$work/corpus.txt" --out "$long" --resume "$long" --threads 1 \
    >/dev/null 2>"$work/err"; rc=$?
  echo "torture: second writer: $(tail -1 "$work/err")"
  kill -9 "$first"; wait "$first" 2>/dev/null
  if [ "$rc" -eq 1 ] && one_line_error "$work/err" "in use by another cpurich process (pid $first"; then
    "$cli" pretrain --corpus "$work/corpus.txt" --out "$long" --resume "$long" --iters 2 --threads 1 \
      >/dev/null 2>"$work/err"
    # --iters 2 is below the checkpoint's step: it exits at once, but only after taking the lock.
    if grep -q "in use" "$work/err"; then lock="FAILED (lock stuck after SIGKILL)"; else lock="ok"; fi
  else
    lock="FAILED (exit $rc)"
  fi
fi

for cmd in pretrain finetune_lora finetune_full; do
  echo "torture: $cmd: kills ${cmd_kills[$cmd]:-0}, resumes ${cmd_resumes[$cmd]:-0}," \
    "equal ${cmd_equal[$cmd]:-0}/${cmd_runs[$cmd]:-0}"
done
echo "torture: kills $total_kills (inside a save $save_kills), resumes $total_resumes, equal $equal/$runs;" \
  "enospc $disk; read-only $ro; lock $lock"
[ "$equal" = "$runs" ] && [ "$failures" = 0 ] && [ "$runs" -gt 0 ] &&
  [[ "$disk" != FAILED* && "$ro" != FAILED* && "$lock" != FAILED* ]]
