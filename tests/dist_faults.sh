#!/usr/bin/env bash
# Data-parallel training under faults (CPU, mpirun -np 2, a tiny plain model on a small SynGait):
# 1. rank 1 killed with SIGKILL mid-run: the whole job ends within 30 s with a message naming the
#    rank, and no rank is left running;
# 2. --resume from what the killed job left equals the uninterrupted run to the last digit;
# 3. ranks started with different configurations or datasets refuse to start, naming the
#    difference; a copy of the dataset under another path is the same dataset.
# usage: dist_faults.sh RMGAIT COMPARE_RUNS WORKDIR. Skipped (77) without mpirun or MPI.
set -euo pipefail
rmgait=$1 compare=$2 work=$3
if ! command -v mpirun > /dev/null; then
  echo "mpirun not found (Debian: openmpi-bin): skipped"
  exit 77
fi
if ! "$rmgait" version | grep -q "MPI: yes"; then
  echo "rmgait was built without MPI: skipped"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # CI runs as root
export OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS)
fail() {
  echo "FAILED: $*"
  exit 1
}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
work=$(pwd -P)
# The rmgait processes running in this test's folder (other tests run the same command lines),
# with the rank given: from /proc, so that neither pgrep nor the ranks' command lines matter.
ranks_here() {  # ranks_here [RANK]
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2> /dev/null)" = "$work" ] || continue
    tr '\0' ' ' < "$p/cmdline" 2> /dev/null | grep -q "rmgait train" || continue
    [ -z "${1:-}" ] || tr '\0' '\n' < "$p/environ" 2> /dev/null |
      grep -qx "OMPI_COMM_WORLD_RANK=$1" || continue
    echo "${p#/proc/}"
  done
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
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
  total_iter: 300
  sampler: [2, 2]
  frames: 8
  seed: 3
  log_iter: 1
  save_iter: 10
YAML

# --- 1. SIGKILL of rank 1 ---------------------------------------------------------------------
"${mpi[@]}" "$rmgait" train --config run.yaml --set trainer_cfg.output_dir=ref > ref.txt 2>&1 ||
  fail "the uninterrupted run: $(tail -n 5 ref.txt)"
"${mpi[@]}" "$rmgait" train --config run.yaml --set trainer_cfg.output_dir=run > run.txt 2>&1 &
job=$!
steps=0
for _ in $(seq 600); do  # until 20 steps are logged (at most 60 s)
  [ -f run/log.jsonl ] && steps=$(wc -l < run/log.jsonl)
  [ "$steps" -ge 20 ] && break
  sleep 0.1
done
[ "$steps" -ge 20 ] || fail "the run logged $steps steps in 60 s: $(tail -n 3 run.txt)"
victim=$(ranks_here 1)
[ -n "$victim" ] || fail "rank 1 not found (did the run end already?): $(tail -n 3 run.txt)"
start=$(now_ms)
kill -9 "$victim"
ended=0
for _ in $(seq 300); do  # the job must end within 30 s
  kill -0 "$job" 2> /dev/null || { ended=1; break; }
  sleep 0.1
done
[ "$ended" = 1 ] || { kill -9 "$job" 2> /dev/null || true; fail "the job still runs 30 s after rank 1 was killed"; }
rc=0
wait "$job" || rc=$?
took=$(($(now_ms) - start))
[ "$rc" -ne 0 ] || fail "the job exited 0 after rank 1 was killed"
grep -q "rank 1 .*signal 9" run.txt || fail "no message names the killed rank: $(tail -n 8 run.txt)"
[ -z "$(ranks_here)" ] || fail "a rank is still running: $(ranks_here)"
echo "rank 1 killed after $steps steps: the job ended in $took ms (exit $rc):" \
  "$(grep -o 'process rank 1.*' run.txt)"

# --- 2. resume after the kill -----------------------------------------------------------------
"${mpi[@]}" "$rmgait" train --config run.yaml --set trainer_cfg.output_dir=run \
  --resume run/latest.safetensors > resume.txt 2>&1 || fail "the resume: $(tail -n 5 resume.txt)"
echo "$(grep -o 'resumed from.*' resume.txt); against the uninterrupted run:"
"$compare" ref run 0 || fail "the killed and resumed run differs from the uninterrupted one"

# --- 3. ranks with different jobs -------------------------------------------------------------
one=(mpirun --oversubscribe -x OMP_NUM_THREADS -np 1)
short=(--config run.yaml --set trainer_cfg.total_iter=2)
refused() {  # refused NAME EXPECTED -- RANK1 ARGS...: rank 0 runs run.yaml, rank 1 with ARGS
  local name=$1 want=$2
  shift 3
  if "${one[@]}" "$rmgait" train "${short[@]}" --set trainer_cfg.output_dir="$name" : \
    -np 1 "$rmgait" train "${short[@]}" --set trainer_cfg.output_dir="$name" "$@" \
    > "$name.txt" 2>&1; then
    fail "$name: ranks with different jobs trained"
  fi
  grep -qF "$want" "$name.txt" || fail "$name: unclear error: $(cat "$name.txt")"
  [ ! -f "$name/log.jsonl" ] || fail "$name: a step was taken"
  echo "$name: $(grep -F -m 1 "$want" "$name.txt" | sed 's/^ *//')"
}
refused seed "rank 1: trainer_cfg.seed is 4 (rank 0: 3)" -- --set trainer_cfg.seed=4
refused channels "rank 1: model_cfg.channels is [2, 4, 16] (rank 0: [2, 4, 8])" -- \
  --set "model_cfg.channels=[2, 4, 16]"
"$rmgait" synth other.pack --subjects 26 --frames 16 --seed 6 --aligned > /dev/null
refused dataset "rank 1: the dataset is " -- --set data_cfg.dataset=other.pack
grep -q "(other.pack) (rank 0: .*(syn.pack))" dataset.txt || fail "the paths are not named"
cp syn.pack copy.pack  # the same dataset under another path
"${one[@]}" "$rmgait" train "${short[@]}" --set trainer_cfg.output_dir=copy : -np 1 "$rmgait" \
  train "${short[@]}" --set trainer_cfg.output_dir=copy --set data_cfg.dataset=copy.pack \
  > copy.txt 2>&1 || fail "a copy of the dataset was refused: $(tail -n 5 copy.txt)"
echo "a copy of the dataset under another path: accepted"
echo "all data-parallel fault checks passed"
