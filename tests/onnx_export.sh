#!/usr/bin/env bash
# `rmgait export` checked by a real runtime: for every block kind, a model trained for 2 steps on a
# small SynGait (so that batch norm's running statistics are its own), exported to ONNX, then run
# by ONNX Runtime on sequences of 10, 30 and 90 frames and on a batch of three 30-frame ones
# (tests/onnx_check.py): equal to `rmgait embed` within 1e-4 of the largest value, and
# onnx.checker's full check passes. Skipped (77) without a Python that imports onnxruntime, onnx
# and numpy: tools/setup-onnx-venv.sh makes one in .venv-onnx, which .ci/run does.
# usage: onnx_export.sh RMGAIT CONFIG WORKDIR [PYTHON]
set -euo pipefail
rmgait=$1 config=$2 work=$3
python=${4:-$(cd "$(dirname "$0")/.." && pwd)/.venv-onnx/bin/python}
if ! "$python" -c "import onnxruntime, onnx, numpy" 2> /dev/null; then
  echo "no Python with onnxruntime, onnx and numpy at $python (tools/setup-onnx-venv.sh): skipped"
  exit 77
fi
check=$(cd "$(dirname "$0")" && pwd)/onnx_check.py
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
"$rmgait" synth syn.pack --subjects 26 --frames 12 --seed 3 --aligned > /dev/null 2>&1
# binary silhouettes (as pretreated data): 10, 30 and 90 frames, two more of 30, and 2 (tiled
# in time to 4 by the model)
"$python" - << 'EOF'
import numpy as np
rng = np.random.default_rng(5)
for name, t in [("t10", 10), ("t30", 30), ("t90", 90), ("t30b", 30), ("t30c", 30), ("t2", 2)]:
    np.save(f"{name}.npy", (rng.random((t, 64, 44)) < 0.4).astype(np.float32))
EOF
for kind in plain gl rm_drop rm_scale inception dropblock scaling_dropblock; do
  "$rmgait" train --config "$config" --set data_cfg.dataset=syn.pack --set model_cfg.block=$kind \
    --set "trainer_cfg.sampler=[2, 2]" --set trainer_cfg.frames=10 --set trainer_cfg.total_iter=2 \
    --set trainer_cfg.eval_iter=0 --set trainer_cfg.output_dir=run_$kind > train_$kind.txt 2>&1 ||
    { tail -n 5 train_$kind.txt; exit 1; }
  "$rmgait" export --checkpoint run_$kind/latest.safetensors --out $kind.onnx
  pairs=()
  for s in t10 t30 t90 t30b t30c t2; do
    "$rmgait" embed --checkpoint run_$kind/latest.safetensors --sils $s.npy --out ${kind}_$s.npy \
      > /dev/null
    pairs+=($s.npy ${kind}_$s.npy)
  done
  echo "== $kind"
  "$python" "$check" $kind.onnx run_$kind/latest.safetensors 2 "${pairs[@]}"
done
echo "every block kind's export equals rmgait embed in ONNX Runtime"
