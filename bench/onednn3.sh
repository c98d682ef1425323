#!/usr/bin/env bash
# rmgait on Debian's oneDNN 2.6 (build/) against rmgait on oneDNN 3 from PyPI (build-dnnl3/),
# one after the other on this machine: bench_conv3d's forward, backward-data and backward-weights
# on the paper's shapes, then the Inception training step and inference (rmgait bench), in each
# precision of PRECISIONS (default "f32"; bf16 needs AVX512-BF16, and runs on AMX where there is
# AMX).
#   bash bench/onednn3.sh [REPEATS=3]
#   PRECISIONS="f32 bf16" bash bench/onednn3.sh 3
# oneDNN 3 comes from PyPI's onednn-cpu-gomp + onednn-devel-cpu-gomp (GNU OpenMP, the threading
# runtime of rmgait's own loops), unpacked into .deps/onednn3/ (git-ignored). PyPI's newer
# `onednn` wheels are built for SYCL with TBB threading, which rmgait's OpenMP design cannot use.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
precisions=${PRECISIONS:-f32}
prefix=.deps/onednn3
version=${ONEDNN3_VERSION:-2023.2.0}
if [ ! -f "$prefix/lib/cmake/dnnl/dnnlConfig.cmake" ]; then
  py=.venv-peer/bin/python
  [ -x "$py" ] || bash bench/setup-peer.sh > /dev/null
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m pip download --quiet --no-deps -d "$tmp" "onednn-cpu-gomp==$version" \
    "onednn-devel-cpu-gomp==$version"
  mkdir -p "$prefix"
  for w in "$tmp"/*.whl; do
    (cd "$tmp" && python3 -m zipfile -e "$w" x)
  done
  for d in "$tmp"/x/*.data/data; do cp -r "$d"/. "$prefix"/; done
fi
cmake -S . -B build-dnnl3 -DCMAKE_BUILD_TYPE=Release -DENABLE_CUDA=OFF -DCMAKE_UNITY_BUILD=ON \
  -Ddnnl_DIR="$PWD/$prefix/lib/cmake/dnnl" > /dev/null
for b in build build-dnnl3; do
  cmake --build "$b" -j "$(nproc)" --target rmgait bench_conv3d > /dev/null
done
export OMP_NUM_THREADS=${THREADS:-$(nproc)}
echo "# $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$OMP_NUM_THREADS threads, rmgait $(git rev-parse --short HEAD)"
for b in build build-dnnl3; do
  lib=$(ldd "$b/engine/librmgait_engine.so" | awk '/libdnnl/ {print $3}')
  for prec in $precisions; do
    echo "== $b, $prec: $(readlink -f "$lib")"
    "$b/bench/bench_conv3d" 4 "$repeats" "$prec" | tail -4
    "$b/tools/rmgait" bench --config configs/casiab_inception.yaml \
      --set "trainer_cfg.sampler=[2,2]" --iters "$repeats" --precision "$prec" |
      grep -E "^(train step|inference)"
  done
done
