#!/usr/bin/env bash
# GPU checks for a lent device machine (no oneDNN, no internet there).
#   here:   bash tools/gpu-check.sh bundle     # builds with CUDA and copies the shared libraries
#                                              # the binaries need into build/gpu-libs
#   there:  bash tools/gpu-check.sh run        # runs the CUDA parity test and the benchmarks,
#                                              # writing logs under $OUT when set
# Carry build/gpu-libs, build/tests/test_cuda and build/tools/rmgait (about 47 MiB together).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  bundle)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DENABLE_CUDA=ON
    cmake --build build -j "$(nproc)" --target test_cuda rmgait bench_conv3d
    mkdir -p build/gpu-libs
    # every non-system library the binaries load, except the CUDA ones the machine has
    for bin in build/tests/test_cuda build/tools/rmgait; do
      ldd "$bin" | awk '/=> \// {print $3}' |
        grep -v -E 'libcuda|libcudart|libcublas|libcudnn|libc\.so|libm\.so|libpthread|ld-linux|libdl|librt' |
        xargs -r -I{} cp -L -n {} build/gpu-libs/
    done
    du -sh build/gpu-libs build ;;
  run)
    export LD_LIBRARY_PATH="$PWD/build/gpu-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
    out="${OUT:-/tmp}"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
    set +e
    ./build/tests/test_cuda 2>&1 | tee "$out/test_cuda.log"
    ./build/tools/rmgait bench --config configs/casiab_inception.yaml --device cuda --iters 3 2>&1 |
      tee "$out/bench_cuda.log"
    RMGAIT_TF32=1 ./build/tools/rmgait bench --config configs/casiab_inception.yaml --device cuda \
      --iters 3 2>&1 | tee "$out/bench_cuda_tf32.log" ;;
  *)
    echo "usage: tools/gpu-check.sh bundle|run" >&2
    exit 2 ;;
esac
