#!/usr/bin/env bash
# Training under faults (CPU, a small SynGait, a tiny plain model):
# 1. kill -9 at 20 moments spread over a run, several inside checkpoint writes (slowed by the
#    train_with_hooks --slow-writes): every restart resumes from latest.safetensors, which
#    is always complete; the final parameters and log equal the uninterrupted run's bit for bit;
#    no temporary file is left;
# 2. a file-size limit (RLIMIT_FSIZE) hit while writing a checkpoint, and a read-only output
#    directory: a clear error naming the file, a non-zero exit, the previous checkpoint intact
#    and loadable;
# 3. an injected non-finite loss and gradient: on_nonfinite stop ends with a message naming the
#    iteration and the tensor and keeps the last good checkpoint; skip goes on.
# The kills and non-finite values go through tests/train_with_hooks (the pipeline library's
# Trainer with test hooks); the rest through the rmgait CLI.
# usage: faults_train.sh RMGAIT COMPARE_RUNS TRAIN_WITH_HOOKS WORKDIR
set -euo pipefail
rmgait=$1 compare=$2 hooked=$3 work=$4
rm -rf "$work" && mkdir -p "$work" && cd "$work"
chmod 755 .
export OMP_NUM_THREADS=1
fail() { echo "FAILED: $*"; exit 1; }
"$rmgait" synth syn.pack --subjects 26 --frames 16 --seed 5 --aligned > /dev/null
cat > run.yaml << 'YAML'
data_cfg:
  dataset: syn.pack
  protocol: casiab-st
  num_workers: 1
model_cfg:
  block: plain
  channels: [2, 4, 8]
trainer_cfg:
  total_iter: 40
  sampler: [2, 2]
  frames: 8
  seed: 3
  log_iter: 1
  save_iter: 2
YAML
train() { "$rmgait" train --config run.yaml "$@"; }

# --- 1. kill -9 -------------------------------------------------------------------------------
train --set trainer_cfg.output_dir=ref > ref.txt 2>&1
delays=(0.25 0.6 0.9 0.4 1.2 0.7 0.3 1.0 0.55 0.8 0.45 1.1 0.65 0.35 0.95 0.5 0.75 1.3 0.4 0.85)
in_write=0
for i in "${!delays[@]}"; do
  args=(--set trainer_cfg.output_dir=run)
  [ -f run/latest.safetensors ] && args+=(--resume run/latest.safetensors)
  # started directly (not through a shell function), so that $! is the trainer itself
  "$hooked" --slow-writes 120 --config run.yaml "${args[@]}" \
    > "kill_$i.txt" 2>&1 &
  pid=$!
  sleep "${delays[$i]}"
  if kill -9 "$pid" 2> /dev/null; then
    wait "$pid" 2> /dev/null || true
    ! kill -0 "$pid" 2> /dev/null || fail "run $i survived kill -9"
  else  # it ended before the kill: it must have ended well
    wait "$pid" || fail "run $i exited on its own with an error: $(tail -n 3 "kill_$i.txt")"
  fi
  if compgen -G "run/checkpoints/*.tmp" > /dev/null || compgen -G "run/*.tmp" > /dev/null; then
    in_write=$((in_write + 1))
  fi
done
echo "20 kills, $in_write of them inside a checkpoint write (a .tmp file left behind)"
[ "$in_write" -ge 3 ] || fail "fewer than 3 kills landed inside a checkpoint write"
train --set trainer_cfg.output_dir=run --resume run/latest.safetensors > final.txt 2>&1 ||
  fail "the final resume: $(tail -n 3 final.txt)"
"$compare" ref run 0 || fail "the killed and resumed run differs from the uninterrupted one"
if compgen -G "run/checkpoints/*.tmp" > /dev/null || compgen -G "run/*.tmp" > /dev/null; then
  fail "temporary files left: $(ls run run/checkpoints | grep tmp)"
fi

# --- 2. full disk, read-only directory --------------------------------------------------------
train --set trainer_cfg.output_dir=full --set trainer_cfg.total_iter=4 > full0.txt 2>&1
cp full/latest.safetensors kept.safetensors
set +e
(
  ulimit -f 16  # KiB: the log fits, a checkpoint does not
  train --set trainer_cfg.output_dir=full --set trainer_cfg.total_iter=8 \
    --resume full/latest.safetensors > full.txt 2>&1
)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a full disk did not fail the run"
grep -q "iter_0000006.safetensors.*File too large" full.txt || fail "unclear error: $(cat full.txt)"
cmp full/latest.safetensors kept.safetensors || fail "the previous checkpoint changed"
echo "file-size limit: $(grep -o 'error.*' full.txt | head -n 1)"
cp -r full ro && chmod -R a+rX . && chmod 555 ro ro/checkpoints
as_other=()
[ "$(id -u)" -ne 0 ] || as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
set +e
"${as_other[@]}" "$rmgait" train --config run.yaml --set trainer_cfg.output_dir=ro \
  --set trainer_cfg.total_iter=8 --resume ro/latest.safetensors > ro.txt 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a read-only directory did not fail the run"
grep -q "ro/.*Permission denied\|ro/.*Read-only" ro.txt || fail "unclear error: $(cat ro.txt)"
cmp ro/latest.safetensors kept.safetensors || fail "the previous checkpoint changed"
echo "read-only: $(grep -o 'error.*' ro.txt | head -n 1)"
# both kept checkpoints still load and train on
train --set trainer_cfg.output_dir=full --set trainer_cfg.total_iter=6 \
  --resume full/latest.safetensors > full2.txt 2>&1 || fail "the kept checkpoint does not load"

# --- 3. non-finite loss and gradient ----------------------------------------------------------
for what in loss grad; do
  set +e
  "$hooked" --nonfinite "5:$what" --config run.yaml --set trainer_cfg.output_dir=nan_$what \
    --set trainer_cfg.total_iter=8 > nan_$what.txt 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "a non-finite $what did not stop the run"
  want="iteration 5: non-finite the triplet loss"
  [ "$what" = loss ] || want="iteration 5: non-finite the gradient of conv3d.0.conv3d.weight"
  grep -q "$want" nan_$what.txt || fail "unclear message: $(cat nan_$what.txt)"
  cmp nan_$what/latest.safetensors nan_$what/checkpoints/iter_0000004.safetensors ||
    fail "latest is not the last good checkpoint (iteration 4)"
  [ ! -e nan_$what/checkpoints/iter_0000006.safetensors ] || fail "a checkpoint after the NaN"
  echo "non-finite $what: $(grep -o 'error.*' nan_$what.txt | head -n 1)"
done
"$hooked" --nonfinite 5:loss --config run.yaml --set trainer_cfg.output_dir=nan_skip \
  --set trainer_cfg.total_iter=8 --set trainer_cfg.on_nonfinite=skip > nan_skip.txt 2>&1 ||
  fail "on_nonfinite: skip stopped: $(tail -n 3 nan_skip.txt)"
grep -q '"skipped"' nan_skip/log.jsonl || fail "the skipped step is not in the log"
echo "all fault checks passed"
