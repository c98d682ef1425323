#!/usr/bin/env bash
# The Python that tests/onnx_export.sh checks exports with: ONNX Runtime, onnx (its checker) and
# numpy from PyPI, in the git-ignored virtual environment .venv-onnx (nothing else uses it).
# Versions pinned, so that a commit's test verdict does not move with PyPI. Skips the download
# when the environment already has them.
set -euo pipefail
cd "$(dirname "$0")/.."
pins=(onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6)
if .venv-onnx/bin/python -c "import onnxruntime, onnx, numpy" 2> /dev/null; then
  exit 0
fi
python3 -m venv .venv-onnx
.venv-onnx/bin/pip install -q --disable-pip-version-check "${pins[@]}"
.venv-onnx/bin/python -c "import onnxruntime, onnx; print('setup-onnx-venv: onnxruntime',
  onnxruntime.__version__, 'onnx', onnx.__version__)"
