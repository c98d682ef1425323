#!/usr/bin/env bash
# The PyTorch people install today, for the speed comparison (bench/compare.sh PEER=torch2) and
# the parity scripts: a virtual environment .venv-peer/ (git-ignored) with the newest torch from
# PyPI and numpy. Idempotent; prints the versions.
#   bash bench/setup-peer.sh        then   .venv-peer/bin/python ...
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PEER_VENV:-.venv-peer}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
"$venv/bin/python" -c "import torch, numpy" 2> /dev/null ||
  "$venv/bin/python" -m pip install --quiet torch numpy pyyaml
"$venv/bin/python" - << 'EOF'
import re, numpy, torch
onednn = re.search(r"MKL-DNN v(\S+)", torch.__config__.show())
print("torch", torch.__version__, "| oneDNN", onednn.group(1) if onednn else "?", "| numpy", numpy.__version__)
EOF
