#!/usr/bin/env bash
# rmgait against its PyTorch peer (bench/peer_torch.py), side by side on this machine: the same
# models, shapes, binary silhouettes, training step and thread count, one run after the other so
# that both see the same machine. Per row: each side's seconds per step, the speed ratios
# (PyTorch time / rmgait time: > 1 means rmgait is faster) against PyTorch eager and, for
# PyTorch 2, torch.compile (inductor, default mode; its compile time excluded and printed),
# and the peak-RSS ratio (rmgait / PyTorch eager: < 1 means rmgait is leaner). Both sides refuse
# to report a step whose loss is not finite.
#
#   bash bench/compare.sh [--breakdown] [ITERS=3]
#   PEER=torch1 THREADS=2 PRECISIONS="f32 bf16" ROWS="inception gl" bash bench/compare.sh 5
#   INTERLEAVE=1 PRECISIONS=bf16 bash bench/compare.sh 8
#
# PEER=torch2 (default): the newest PyTorch from PyPI in .venv-peer/ (bench/setup-peer.sh, run
# here when missing); PEER=torch1: Debian's python3-torch 1.13 (installed when missing), eager
# only. COMPILE=0 leaves out the torch.compile runs. --breakdown adds, under each row, one step's
# seconds per op family on each side (rmgait bench --breakdown, peer_torch.py --breakdown).
# SETS="section.key=value ..." passes more --set to rmgait bench, e.g.
# SETS="trainer_cfg.conv_algorithm=direct evaluator_cfg.conv_algorithm=direct" (rmgait trains
# and infers with Winograd convs unless told: docs/engine.md).
# Rows (channels 32/64/128 unless said): inception, gl, plain (batch 2 x 2 x 30 frames),
# inception-8x2 (the paper's P = 8 with K = 2: its 8 x 16 takes minutes a step on a CPU),
# gl-small-b32 (channels 8/16/32, 8 x 4), then inference on one 90-frame sequence (Inception).
# ROUNDS=N (default 1) runs every row N times, alternating which side goes first, and prints
# the median of the N per-round ratios, with their range and the times under the row.
# INTERLEAVE=1 keeps all sides of a row alive at once, taking turns step by step
# (bench/interleave.py), and prints the median of the ITERS per-step ratios and their range:
# on a machine whose speed drifts within minutes (a VM's shared cores), the figure to quote.
# Needs a built tree (build/tools/rmgait). Ratios, not absolute times, are the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
breakdown=()
if [ "${1:-}" = --breakdown ]; then
  breakdown=(--breakdown)
  shift
fi
iters=${1:-3}
rounds=${ROUNDS:-1}
interleave=${INTERLEAVE:-0}
per="$rounds rounds"
if [ "$interleave" = 1 ]; then
  [ ${#breakdown[@]} = 0 ] || { echo "compare: --breakdown runs without INTERLEAVE=1" >&2; exit 2; }
  rounds=1 per="$iters steps in turns"
  il_dir=$(mktemp -d)
fi
threads=${THREADS:-$(nproc)}
precisions=${PRECISIONS:-"f32"}
build=${BUILD_DIR:-build}
rmgait=$build/tools/rmgait
peer=${PEER:-torch2}
case $peer in
  torch2)
    py=${PEER_VENV:-.venv-peer}/bin/python
    [ -x "$py" ] || bash bench/setup-peer.sh >&2
    compile=${COMPILE:-1}
    ;;
  torch1)
    py=/usr/bin/python3
    if ! $py -c "import torch" 2> /dev/null; then
      echo "compare: installing python3-torch (Debian's PyTorch 1.13)" >&2
      sudo_cmd=""
      [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
      $sudo_cmd apt-get install -y -qq --no-install-recommends python3-torch > /dev/null
    fi
    compile=0
    ;;
  *)
    echo "compare: PEER must be torch2 or torch1, not '$peer'" >&2
    exit 2
    ;;
esac
[ -x "$rmgait" ] || cmake --build "$build" -j "$(nproc)" --target rmgait > /dev/null

# name | block kind | config | channels | sampler P,K
all_rows=(
  "inception|inception|configs/casiab_inception.yaml|32,64,128|2,2"
  "gl|gl|configs/casiab_gaitgl.yaml|32,64,128|2,2"
  "plain|plain|configs/casiab_baseline.yaml|32,64,128|2,2"
  "inception-8x2|inception|configs/casiab_inception.yaml|32,64,128|8,2"
  "gl-small-b32|gl|configs/casiab_gaitgl.yaml|8,16,32|8,4"
)
selected=${ROWS:-"inception gl plain inception-8x2 gl-small-b32"}
sets=()
for s in ${SETS:-}; do sets+=(--set "$s"); done

export OMP_NUM_THREADS=$threads
versions=$($py - << 'EOF'
import re, torch
m = re.search(r"MKL-DNN v(\S+)", torch.__config__.show())
print(f"torch {torch.__version__} (oneDNN {m.group(1) if m else '?'})")
EOF
)
echo "# $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads," \
  "$versions, rmgait $(git rev-parse --short HEAD), $iters timed steps per run, $per${SETS:+, sets: $SETS}"
printf "| %-13s | %-4s | %8s | %8s | %8s | %7s | %7s | %9s | %10s | %5s | %9s |\n" work prec \
  "eager s" "compiled" "rmgait s" "vs eager" "vs comp" "torch MiB" "rmgait MiB" RSS "compile s"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) printf "-"; else printf "%.2fx", a / b }'; }
num() { [ -n "$1" ] && printf "%.3f" "$1" || printf -- "-"; }
peer_log=$(mktemp)
trap 'rm -rf "$peer_log" ${il_dir:+"$il_dir"}' EXIT
run_peer() {  # peer_torch.py ARGS...: its stdout; its stderr shown only when it fails
  $py "$@" 2> "$peer_log" || {
    grep -v "USDT\|gpuGetDeviceCount" "$peer_log" | tail -5 >&2
    return 1
  }
}
rmgait_field() {  # train|infer|rss OUTPUT: that figure from rmgait bench's output
  case $1 in
    train) sed -n 's/^train step.*: \([0-9.]*\) s\/it.*/\1/p' <<< "$2" ;;
    infer) sed -n 's/^inference.*: \([0-9.]*\) s,.*/\1/p' <<< "$2" ;;
    rss) sed -n 's/^peak resident memory: \([0-9.]*\) MiB/\1/p' <<< "$2" ;;
    *) echo "compare: rmgait_field: no field '$1'" >&2 && return 2 ;;
  esac
}
peer_field() {  # KEY OUTPUT: the value of peer_torch.py's "KEY VALUE" line (train_s, compile_s...)
  awk -v k="$1" '$1 == k {print $2}' <<< "$2"
}
families() {  # "family NAME SECONDS" lines -> "NAME SECONDS" sorted by name
  awk '/^family / {print $2, $3}' | sort
}
median() {  # "V1 V2 ...": their median, or nothing
  tr ' ' '\n' | awk NF | sort -g | awk '{ v[NR] = $1 }
    END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratios() {  # "A1 A2 ..." "B1 B2 ...": the per-round ratios A/B, skipping rounds without both
  paste -d' ' <(tr ' ' '\n' <<< "$1") <(tr ' ' '\n' <<< "$2") |
    awk 'NF == 2 && $2 > 0 { printf "%s ", $1 / $2 }'
}
spread() {  # "R1 R2 ...": "min-max" of the ratios, or "-"
  tr ' ' '\n' | awk 'NF { if (!n++ || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
    END { if (n) printf "%.2f-%.2fx", lo, hi; else printf "-" }'
}
for prec in $precisions; do
  infer_rows=()
  for row in "${all_rows[@]}"; do
    IFS='|' read -r name kind cfg ch pk <<< "$row"
    [[ " $selected " == *" $name "* ]] || continue
    peer_args=(bench/peer_torch.py --model "$kind" --channels "$ch" --sampler "$pk"
      --iters "$iters" --threads "$threads" --precision "$prec")
    rmgait_cmd=("$rmgait" bench --config "$cfg" --set "model_cfg.channels=[$ch]"
      --set "trainer_cfg.sampler=[$pk]" ${sets[@]+"${sets[@]}"} --iters "$iters")
    [ "$prec" = f32 ] || rmgait_cmd+=(--precision "$prec")
    rmgait_round() { "${rmgait_cmd[@]}" ${bd[@]+"${bd[@]}"}; }
    # Per round: rmgait, PyTorch eager and torch.compile, one after the other, the order
    # reversed every other round so that neither side always runs first on a drifting machine.
    r_train="" r_infer="" r_rss="" t_train="" t_infer="" t_rss="" c_train="" c_infer="" c_time=""
    if [ "$interleave" = 1 ]; then
      # All sides alive at once, one training step (or inference run) at a time in turns
      # (bench/interleave.py): the k-th steps' ratios, their median and range.
      sides=("rmgait=$(printf '%q ' "${rmgait_cmd[@]}")" "eager=$(printf '%q ' "$py" "${peer_args[@]}")")
      [ "$compile" = 0 ] || sides+=("compile=$(printf '%q ' "$py" "${peer_args[@]}" --compile)")
      u=$(python3 bench/interleave.py "$il_dir" "${sides[@]}")
      units() { awk -v s="$1" -v k="$2" '$1 == "units" && $2 == s && $3 == k {
        $1 = $2 = $3 = ""; print }' <<< "$u" | xargs; }
      r=$(cat "$il_dir/rmgait.out") t=$(cat "$il_dir/eager.out") c=""
      [ "$compile" = 0 ] || c=$(cat "$il_dir/compile.out")
      r_train=$(units rmgait train) r_infer=$(units rmgait infer)
      t_train=$(units eager train) t_infer=$(units eager infer)
      c_train=$(units compile train) c_infer=$(units compile infer)
      r_rss=$(rmgait_field rss "$r") t_rss=$(peer_field peak_rss_mib "$t")
      c_time=$(peer_field compile_s "$c")
    fi
    for ((round = 0; round < (interleave ? 0 : rounds); round++)); do
      bd=()
      [ "$round" -gt 0 ] || bd=(${breakdown[@]+"${breakdown[@]}"})
      c=""
      if ((round % 2 == 0)); then
        r=$(rmgait_round)
        t=$(run_peer "${peer_args[@]}" ${bd[@]+"${bd[@]}"})
        [ "$compile" = 0 ] || c=$(run_peer "${peer_args[@]}" --compile)
      else
        [ "$compile" = 0 ] || c=$(run_peer "${peer_args[@]}" --compile)
        t=$(run_peer "${peer_args[@]}")
        r=$(rmgait_round)
      fi
      [ "$round" -gt 0 ] || { r0=$r t0=$t; }
      r_train+="$(rmgait_field train "$r") " r_infer+="$(rmgait_field infer "$r") "
      r_rss+="$(rmgait_field rss "$r") "
      t_train+="$(peer_field train_s "$t") " t_infer+="$(peer_field infer_s "$t") "
      t_rss+="$(peer_field peak_rss_mib "$t") "
      c_train+="$(peer_field train_s "$c") " c_infer+="$(peer_field infer_s "$c") "
      c_time+="$(peer_field compile_s "$c") "
    done
    # one round: the ratio of the two times; several: the median of the rounds' ratios
    vs_eager=$(ratios "$t_train" "$r_train" | median)
    vs_comp=$(ratios "$c_train" "$r_train" | median)
    rss=$(ratios "$r_rss" "$t_rss" | median)
    printf "| %-13s | %-4s | %8s | %8s | %8s | %7s | %7s | %9.0f | %10.0f | %5s | %9s |\n" \
      "$name" "$prec" "$(num "$(median <<< "$t_train")")" "$(num "$(median <<< "$c_train")")" \
      "$(num "$(median <<< "$r_train")")" "$(ratio "$vs_eager" 1)" "$(ratio "$vs_comp" 1)" \
      "$(median <<< "$t_rss")" "$(median <<< "$r_rss")" "$(ratio "$rss" 1)" \
      "$(median <<< "$c_time" | grep . || echo -)"
    if [ "$rounds" -gt 1 ] || [ "$interleave" = 1 ]; then
      echo "|   $per: vs eager $(ratios "$t_train" "$r_train" | spread)," \
        "vs compile $(ratios "$c_train" "$r_train" | spread)," \
        "rmgait s $(tr -s ' ' <<< "$r_train"| sed 's/ $//'), eager s $(tr -s ' ' <<< "$t_train" | sed 's/ $//')"
    fi
    if [ ${#breakdown[@]} -gt 0 ]; then
      # rmgait's "  conv forward   1.234 s  25.0%" lines -> "conv_forward 1.234"
      rb=$(sed -n '/^breakdown of one step/,$p' <<< "$r0" | tail -n +2 |
        awk '{s = $(NF - 2); $NF = ""; $(NF - 1) = ""; $(NF - 2) = ""; n = $0; gsub(/ +$/, "", n);
          gsub(/^ +/, "", n); gsub(/ /, "_", n); print "family", n, s}' | families)
      tb=$(families <<< "$t0")
      echo "|   breakdown of one step, seconds: family: PyTorch eager / rmgait"
      join -a1 -a2 -e 0 -o 0,1.2,2.2 <(echo "$tb") <(echo "$rb") |
        awk '{printf "|     %-24s %8.3f / %8.3f\n", $1, $2, $3}'
    fi
    infer_rows+=("$name|$t_infer|$c_infer|$r_infer")
  done
  for ir in "${infer_rows[@]}"; do
    IFS='|' read -r name ti ci ri <<< "$ir"
    [ "$name" = inception ] || continue
    printf "| %-13s | %-4s | %8s | %8s | %8s | %7s | %7s | %9s | %10s | %5s | %9s |\n" \
      "infer 1x90 fr" "$prec" "$(num "$(median <<< "$ti")")" "$(num "$(median <<< "$ci")")" \
      "$(num "$(median <<< "$ri")")" "$(ratio "$(ratios "$ti" "$ri" | median)" 1)" \
      "$(ratio "$(ratios "$ci" "$ri" | median)" 1)" - - - -
    [ "$rounds" -le 1 ] && [ "$interleave" = 0 ] || echo "|   $per: vs eager $(ratios "$ti" "$ri" | spread)," \
      "vs compile $(ratios "$ci" "$ri" | spread)"
  done
done
