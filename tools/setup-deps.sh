#!/usr/bin/env bash
# Installs rmgait's build dependencies from Debian 12 (skips apt when they are all present).
# (ocl-icd-opencl-dev: Debian's oneDNN CMake package looks for OpenCL, a Recommends of libdnnl-dev;
# libopenmpi-dev + openmpi-bin: data-parallel training under mpirun, and its tests;
# clang + libclang-rt-14-dev: the libFuzzer targets of tools/fuzz.sh; libzip-dev: PyTorch .pt
# checkpoints; libonnx-dev + libprotobuf-dev: `rmgait export`, the ONNX schema and checker)
set -euo pipefail
pkgs=(build-essential cmake libdnnl-dev ocl-icd-opencl-dev libeigen3-dev doctest-dev libstb-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libopenmpi-dev openmpi-bin
  clang libclang-rt-14-dev libzip-dev libonnx-dev libprotobuf-dev)
# --tests: also what only the test suite needs (chromium: the report in a headless browser;
# python3: bench/interleave.py in tests/bench_gate.sh)
[ "${1:-}" != --tests ] || pkgs+=(chromium python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
