#!/usr/bin/env bash
# rmgait against its PyTorch peer (bench/peer_torch.py), side by side on this machine: the same
# models, shapes, training step and thread count, one row after the other so that both see the
# same machine. Prints each speed ratio (PyTorch time / rmgait time: > 1 means rmgait is faster),
# each peak-RSS ratio (rmgait / PyTorch: < 1 means rmgait is leaner) and the training step's
# GFLOP/s as a share of the measured f32 and bf16 peaks (bench_peak).
#
#   bash bench/compare.sh [ITERS=3]
#   THREADS=2 PRECISIONS="f32 bf16" ROWS="inception gl" bash bench/compare.sh 5
#
# Needs a built tree (build/tools/rmgait, build/bench/bench_peak) and Debian's python3-torch,
# which it installs when missing. Ratios, not absolute times, are the figures: machines differ.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-3}
threads=${THREADS:-$(nproc)}
precisions=${PRECISIONS:-"f32"}
build=${BUILD_DIR:-build}
rmgait=$build/tools/rmgait
py=/usr/bin/python3
if ! $py -c "import torch" 2>/dev/null; then
  echo "compare: installing python3-torch (the PyTorch peer)" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi
[ -x "$rmgait" ] && [ -x "$build/bench/bench_peak" ] ||
  cmake --build "$build" -j "$(nproc)" --target rmgait bench_peak >/dev/null

# name | block kind | config | channels | sampler P,K
all_rows=(
  "inception|inception|configs/casiab_inception.yaml|32,64,128|2,2"
  "gl|gl|configs/casiab_gaitgl.yaml|32,64,128|2,2"
  "plain|plain|configs/casiab_baseline.yaml|32,64,128|2,2"
  "gl-small-b32|gl|configs/casiab_gaitgl.yaml|8,16,32|8,4"
)
selected=${ROWS:-"inception gl plain gl-small-b32"}

export OMP_NUM_THREADS=$threads
peaks=$("$build/bench/bench_peak")
f32_peak=$(awk '/^f32_peak_gflops/ {print $2}' <<<"$peaks")
bf16_peak=$(awk '/^bf16_peak_gflops/ {print $2}' <<<"$peaks")
echo "# $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads," \
  "torch $($py -c 'import torch; print(torch.__version__)'), rmgait $(git rev-parse --short HEAD)"
echo "# measured peaks: f32 $f32_peak GFLOP/s, bf16 $bf16_peak GFLOP/s; $iters timed steps per run"
printf "| %-13s | %-4s | %9s | %9s | %6s | %10s | %10s | %5s | %6s | %14s | %14s |\n" work prec \
  "torch s" "rmgait s" speed "torch MiB" "rmgait MiB" RSS "GFLOP" "torch %f32/bf16" \
  "rmgait %f32/bf16"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
pct() { awk -v f="$1" -v s="$2" -v p="$3" 'BEGIN { if (p > 0) printf "%.0f", 100 * f / s / p; else printf "-" }'; }
for prec in $precisions; do
  infer_rows=()
  for row in "${all_rows[@]}"; do
    IFS='|' read -r name kind cfg ch pk <<<"$row"
    [[ " $selected " == *" $name "* ]] || continue
    r=$("$rmgait" bench --config "$cfg" --set "model_cfg.channels=[$ch]" \
      --set "trainer_cfg.sampler=[$pk]" --iters "$iters" $([ "$prec" = f32 ] || echo --precision "$prec"))
    t=$($py bench/peer_torch.py --model "$kind" --channels "$ch" --sampler "$pk" \
      --iters "$iters" --threads "$threads" --precision "$prec")
    r_train=$(sed -n 's/^train step.*: \([0-9.]*\) s\/it.*/\1/p' <<<"$r")
    r_gflop=$(sed -n 's/.* \([0-9.]*\) GFLOP\/step.*/\1/p' <<<"$r")
    r_infer=$(sed -n 's/^inference.*: \([0-9.]*\) s,.*/\1/p' <<<"$r")
    r_rss=$(sed -n 's/^peak resident memory: \([0-9.]*\) MiB/\1/p' <<<"$r")
    t_train=$(awk '/^train_s/ {print $2}' <<<"$t")
    t_infer=$(awk '/^infer_s/ {print $2}' <<<"$t")
    t_rss=$(awk '/^peak_rss_mib/ {print $2}' <<<"$t")
    printf "| %-13s | %-4s | %9.3f | %9.3f | %5.2fx | %10.0f | %10.0f | %4.2fx | %6.1f | %6s / %-5s | %6s / %-5s |\n" \
      "$name" "$prec" "$t_train" "$r_train" "$(awk -v a="$t_train" -v b="$r_train" 'BEGIN{print a/b}')" \
      "$t_rss" "$r_rss" "$(awk -v a="$r_rss" -v b="$t_rss" 'BEGIN{print a/b}')" "$r_gflop" \
      "$(pct "$r_gflop" "$t_train" "$f32_peak")" "$(pct "$r_gflop" "$t_train" "$bf16_peak")" \
      "$(pct "$r_gflop" "$r_train" "$f32_peak")" "$(pct "$r_gflop" "$r_train" "$bf16_peak")"
    infer_rows+=("$name|$t_infer|$r_infer")
  done
  for ir in "${infer_rows[@]}"; do
    IFS='|' read -r name ti ri <<<"$ir"
    [ "$name" = inception ] || continue
    printf "| %-13s | %-4s | %9.3f | %9.3f | %5.2fx | %10s | %10s | %5s | %6s | %14s | %14s |\n" \
      "infer 1x90 fr" "$prec" "$ti" "$ri" "$(awk -v a="$ti" -v b="$ri" 'BEGIN{print a/b}')" \
      - - - - - -
  done
done
