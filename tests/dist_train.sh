#!/usr/bin/env bash
# Data-parallel training and evaluation under mpirun against one process (docs/reliability.md).
# usage: dist_train.sh RMGAIT COMPARE_RUNS WORKDIR BLOCK [section.key=value overrides...]
# (overrides also from $DIST_TRAIN_SETS, space-separated)
# Trains 5 steps of a small BLOCK model on a small SynGait with one process and with
# `mpirun -np 2` on the same global 4 x 2 batch: losses and parameters must agree (relative
# 1e-5, tests/compare_runs.cpp). Then `rmgait eval` of the one-process checkpoint under mpirun
# must print and write the same rank-1 tables as one process, and a run resumed under mpirun
# must equal the uninterrupted one exactly. Skipped (77) without mpirun.
set -euo pipefail
rmgait=$1 compare=$2 work=$3 block=$4
shift 4
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
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$rmgait" synth syn.pack --subjects 26 --frames 20 --seed 3 --aligned > /dev/null  # 2 test subjects
cat > run.yaml << YAML
data_cfg:
  dataset: syn.pack
  protocol: casiab-st
  num_workers: 1
model_cfg:
  block: $block
  channels: [4, 8, 16]
optimizer_cfg:
  solver: Adam
  lr: 1.0e-3
trainer_cfg:
  total_iter: 5
  sampler: [4, 2]
  frames: 12
  seed: 1
  log_iter: 1
YAML
sets=()
for s in ${DIST_TRAIN_SETS:-} "$@"; do sets+=(--set "$s"); done
"$rmgait" train --config run.yaml "${sets[@]}" --set trainer_cfg.output_dir=one > one.txt 2>&1
"${mpi[@]}" "$rmgait" train --config run.yaml "${sets[@]}" --set trainer_cfg.output_dir=two \
  > two.txt 2>&1 || { cat two.txt; exit 1; }
tail -n 5 two.txt
"$compare" one two 1e-5
ls two/checkpoints/*.tmp* 2> /dev/null && { echo "temporary files left"; exit 1; }
# --resume with the same N: 3 steps, then on to 5 from the checkpoint, equals the 5 steps
# (the sanitizer build leaves this to faults_train, which resumes 20 times: CI's time is short)
if [ -z "${RMGAIT_SANITIZED:-}" ]; then
"${mpi[@]}" "$rmgait" train --config run.yaml "${sets[@]}" --set trainer_cfg.output_dir=three \
  --set trainer_cfg.total_iter=3 > three.txt 2>&1 || { cat three.txt; exit 1; }
"${mpi[@]}" "$rmgait" train --config run.yaml "${sets[@]}" --set trainer_cfg.output_dir=three \
  --resume three/latest.safetensors > three.txt 2>&1 || { cat three.txt; exit 1; }
echo "resumed under mpirun against the uninterrupted run:"
"$compare" two three 0
fi
# evaluation: shards embedded by the ranks, scored by rank 0: the same tables
"$rmgait" eval --checkpoint one/latest.safetensors --dataset syn.pack --protocol casiab-st \
  --out eval1 > eval1.txt 2> /dev/null
"${mpi[@]}" "$rmgait" eval --checkpoint one/latest.safetensors --dataset syn.pack \
  --protocol casiab-st --out eval2 > eval2.txt 2> /dev/null
cmp eval1.txt eval2.txt && cmp eval1.json eval2.json && cmp eval1.csv eval2.csv
echo "rank-1 under mpirun: identical to one process"
# a global batch that does not split over the ranks: a clear error naming P, K and N
if "${mpi[@]}" "$rmgait" train --config run.yaml --set "trainer_cfg.sampler=[3, 1]" \
  --set trainer_cfg.output_dir=uneven > uneven.txt 2>&1; then
  echo "FAILED: P x K = 3 over 2 ranks did not fail"
  exit 1
fi
grep -q "P x K = 3 x 1 = 3 sequences does not split evenly over N = 2 ranks" uneven.txt ||
  { echo "FAILED: unclear error:"; cat uneven.txt; exit 1; }
