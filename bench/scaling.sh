#!/usr/bin/env bash
# Data-parallel scaling on this machine's cores, rmgait against PyTorch DDP (bench/peer_torch.py
# --ranks, gloo): one process with all the threads against `mpirun -np R` ranks with
# threads / R each, the same global batch, so the ideal is the same step time (efficiency =
# one-process step / R-rank step). Also prints rmgait's ratio to PyTorch in both set-ups.
#
#   bash bench/scaling.sh [ITERS=3]          RANKS=2 THREADS=2 ROWS="gl-small-b32 inception"
#
# Needs a built tree with MPI (build/tools/rmgait) and Open MPI's mpirun. The peer: PEER=torch2
# (default) the newest PyTorch from PyPI in .venv-peer/ (bench/setup-peer.sh, run here when
# missing), PEER=torch1 Debian's python3-torch.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-3}
threads=${THREADS:-$(nproc)}
ranks=${RANKS:-2}
per_rank=$((threads / ranks))
build=${BUILD_DIR:-build}
rmgait=$build/tools/rmgait
case ${PEER:-torch2} in
  torch2)
    py=${PEER_VENV:-.venv-peer}/bin/python
    [ -x "$py" ] || bash bench/setup-peer.sh >&2
    ;;
  torch1) py=/usr/bin/python3 ;;
  *)
    echo "scaling: PEER must be torch2 or torch1, not '${PEER}'" >&2
    exit 2
    ;;
esac
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# name | block kind | config | channels | sampler P,K
all_rows=(
  "inception|inception|configs/casiab_inception.yaml|32,64,128|2,2"
  "gl|gl|configs/casiab_gaitgl.yaml|32,64,128|2,2"
  "gl-small-b32|gl|configs/casiab_gaitgl.yaml|8,16,32|8,4"
)
selected=${ROWS:-"inception gl gl-small-b32"}
echo "# $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "1 x $threads threads against $ranks x $per_rank, torch $($py -c 'import torch; print(torch.__version__)'), rmgait $(git rev-parse --short HEAD)"
printf "| %-13s | %9s | %9s | %6s | %9s | %9s | %6s | %8s | %8s |\n" work "rmgait 1" \
  "rmgait R" eff "torch 1" "torch R" eff "speed 1" "speed R"
echo "|---|---|---|---|---|---|---|---|---|"
secs() { sed -n 's/^train step.*: \([0-9.]*\) s\/it.*/\1/p'; }
notes=()
for row in "${all_rows[@]}"; do
  IFS='|' read -r name kind cfg ch pk <<<"$row"
  [[ " $selected " == *" $name "* ]] || continue
  sets=(--set "model_cfg.channels=[$ch]" --set "trainer_cfg.sampler=[$pk]")
  r1=$(OMP_NUM_THREADS=$threads "$rmgait" bench --config "$cfg" "${sets[@]}" --iters "$iters" | secs)
  out=$(mpirun --oversubscribe -np "$ranks" -x OMP_NUM_THREADS="$per_rank" "$rmgait" bench \
    --config "$cfg" "${sets[@]}" --iters "$iters" --baseline-step "$r1")
  rr=$(secs <<<"$out")
  notes+=("$name: $(grep '^data-parallel' <<<"$out")")
  t1=$($py bench/peer_torch.py --model "$kind" --channels "$ch" --sampler "$pk" --iters "$iters" \
    --threads "$threads" | sed -n 's/^train_s //p')
  tr=$($py bench/peer_torch.py --model "$kind" --channels "$ch" --sampler "$pk" --iters "$iters" \
    --threads "$per_rank" --ranks "$ranks" | sed -n 's/^train_s //p')
  awk -v n="$name" -v r1="$r1" -v rr="$rr" -v t1="$t1" -v tr="$tr" 'BEGIN {
    printf "| %-13s | %9.3f | %9.3f | %5.0f%% | %9.3f | %9.3f | %5.0f%% | %7.2fx | %7.2fx |\n",
      n, r1, rr, 100 * r1 / rr, t1, tr, 100 * t1 / tr, t1 / r1, tr / rr }'
done
for n in "${notes[@]}"; do echo "# $n"; done
