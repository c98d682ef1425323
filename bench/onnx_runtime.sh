#!/usr/bin/env bash
# Inference on one 90-frame sequence: rmgait against ONNX Runtime running rmgait's own export of
# the same model (`rmgait bench --export`), same thread count, same run. Rows: the paper's models
# at CASIA-B sizes (channels 32/64/128). Prints a Markdown table; the ratio is ONNX Runtime's time
# over rmgait's (> 1: rmgait faster).
# (rmgait bench also times ITERS training steps first, untimed here.)
# usage: bench/onnx_runtime.sh [ITERS] (default 10); THREADS (default 2); needs .venv-onnx
# (tools/setup-onnx-venv.sh) and build/tools/rmgait.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-10} threads=${THREADS:-2}
rmgait=${RMGAIT:-build/tools/rmgait}
py=.venv-onnx/bin/python
[ -x "$py" ] || bash tools/setup-onnx-venv.sh
export OMP_NUM_THREADS=$threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| model | rmgait (s) | ONNX Runtime (s) | ratio |"
echo "|---|---|---|---|"
for row in "inception|configs/casiab_inception.yaml" "gl|configs/casiab_gaitgl.yaml" \
  "plain|configs/casiab_baseline.yaml"; do
  name=${row%%|*} cfg=${row#*|}
  r=$("$rmgait" bench --config "$cfg" --set "model_cfg.channels=[32,64,128]" \
    --set "trainer_cfg.sampler=[2,2]" --iters "$iters" --export "$tmp/$name.onnx")
  ours=$(sed -n 's/^inference (one 90-frame sequence): \([0-9.]*\) s.*/\1/p' <<< "$r")
  o=$("$py" bench/peer_ort.py "$tmp/$name.onnx" --threads "$threads" --frames 90 --iters "$iters")
  theirs=$(sed -n 's/.* inference \([0-9.]*\) s.*/\1/p' <<< "$o")
  echo "| $name | $ours | $theirs | $(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.2fx", a / b }') |"
done
echo
echo "threads $threads, $iters timed runs after one warm-up; $($py -c 'import onnxruntime; print("onnxruntime", onnxruntime.__version__)')"
