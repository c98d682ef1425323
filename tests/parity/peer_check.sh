#!/usr/bin/env bash
# Embedding parity with PyTorch for every block kind: a small SynGait (26 subjects: CASIA-B ST
# trains on 24, tests on 2), 3 training steps per kind (trained weights, not the initialisation),
# `rmgait embed` of one test sequence in f32 with Winograd convs (the default) and with direct
# ones, and the same weights in bench/peer_torch.py's model (tests/parity/peer_check.py).
# Needs PyTorch: Debian's python3-torch (installed when missing), or PEER_PYTHON=.venv-peer/bin/python
# (bench/setup-peer.sh). Usage: bash tests/parity/peer_check.sh [OUT_DIR=/tmp/rmgait-peer]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/rmgait-peer}
rmgait=${BUILD_DIR:-build}/tools/rmgait
py=${PEER_PYTHON:-/usr/bin/python3}
$py -c "import torch, yaml" 2>/dev/null ||
  { [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo; ${sudo_cmd:-} apt-get install -y -qq python3-torch python3-yaml >/dev/null; }
mkdir -p "$out"
[ -f "$out/syn.pack" ] || "$rmgait" synth "$out/syn.pack" --subjects 26 --frames 36 --seed 3 --aligned >/dev/null 2>&1
# one test sequence [T, 64, 44] in [0, 1] from the packed dataset, via the peer's NumPy reader
$py - "$out" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/seq.npy", (rng.random((33, 64, 44)) > 0.6).astype(np.float32))
PY
status=0
for kind in plain gl rm_drop rm_scale inception; do
  "$rmgait" train --config configs/quickstart.yaml --set "data_cfg.dataset=$out/syn.pack" \
    --set "model_cfg.block=$kind" --set "model_cfg.channels=[8, 16, 32]" \
    --set trainer_cfg.total_iter=3 \
    --set trainer_cfg.save_iter=3 --set "trainer_cfg.sampler=[4, 2]" \
    --set "trainer_cfg.output_dir=$out/$kind" >/dev/null 2>&1 ||
    { echo "$kind: training failed (see $out/$kind)"; status=1; continue; }
  for algorithm in winograd direct; do  # the default, then the exact one
    "$rmgait" embed --checkpoint "$out/$kind/latest.safetensors" --sils "$out/seq.npy" \
      --conv-algorithm $algorithm --out "$out/$kind/emb_$algorithm.npy" >/dev/null
    echo -n "$algorithm convs, "
    $py tests/parity/peer_check.py "$out/$kind/latest.safetensors" "$out/seq.npy" \
      "$out/$kind/emb_$algorithm.npy" || status=1
  done
done
exit $status
