#!/usr/bin/env bash
# Quickstart: installs dependencies, builds, renders SynGait, trains configs/quickstart.yaml on
# the CPU, prints the rank-1 table (CASIA-B ST protocol on SynGait) and writes
# runs/quickstart/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DENABLE_CUDA="${ENABLE_CUDA:-AUTO}"
cmake --build build -j "$(nproc)" --target rmgait
mkdir -p runs
[ -f runs/syngait.pack ] || ./build/tools/rmgait synth runs/syngait.pack --subjects 50 --frames 36 --seed 1 --aligned
./build/tools/rmgait info runs/syngait.pack
./build/tools/rmgait train --config configs/quickstart.yaml
# the pictures: training curves, the rank-1 table, probe x gallery view heatmaps (open in a browser)
./build/tools/rmgait report runs/quickstart --out runs/quickstart/report.html
echo "quickstart: report in runs/quickstart/report.html"
