#!/usr/bin/env bash
# GPU checks for a lent device machine (no oneDNN, no internet there).
#   here:   bash tools/gpu-check.sh bundle     # builds with CUDA into build-gpu (not for this
#                                              # CPU: RMGAIT_NATIVE=OFF) and copies the shared
#                                              # libraries the binaries need into build-gpu/gpu-libs
#   there:  bash tools/gpu-check.sh run        # runs the CUDA parity test, the benchmarks and a
#                                              # short GPU training + eval, logs under $OUT
# Carry build-gpu/gpu-libs, build-gpu/tests/test_cuda, build-gpu/tests/test_nccl and
# build-gpu/tools/rmgait (about 50 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  bundle)
    cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DENABLE_CUDA=ON -DRMGAIT_NATIVE=OFF
    cmake --build build-gpu -j "$(nproc)" --target test_cuda test_nccl rmgait rmgait_cuda \
      rmgait_nccl bench_conv3d
    rm -rf build-gpu/gpu-libs  # never a stale copy of a library rebuilt since
    mkdir -p build-gpu/gpu-libs
    # dlopen'ed, not in ldd
    cp -L build-gpu/engine/librmgait_cuda.so build-gpu/distributed/librmgait_nccl.so build-gpu/gpu-libs/
    # every non-system library the binaries load, except the CUDA ones the machine has (NCCL,
    # 218 MB, too: the toolkit's or the nvidia-nccl wheel's)
    for bin in build-gpu/tests/test_cuda build-gpu/tests/test_nccl build-gpu/tools/rmgait; do
      ldd "$bin" | awk '/=> \// {print $3}' |
        grep -v -E 'libcuda|libcudart|libcublas|libcudnn|libnccl|libc\.so|libm\.so|libpthread|ld-linux|libdl|librt' |
        xargs -r -I{} cp -L -n {} build-gpu/gpu-libs/
    done
    du -sh build-gpu/gpu-libs build-gpu ;;
  run)
    . tools/gpu-env.sh
    py=(env LD_LIBRARY_PATH="$orig_ld" python3)
    export LD_LIBRARY_PATH="$PWD/build-gpu/gpu-libs:/usr/local/cuda/lib64:/usr/local/cuda/lib:$gpu_pylibs:$orig_ld"
    out="${OUT:-/tmp}"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
    ldd ./build-gpu/tools/rmgait ./build-gpu/gpu-libs/librmgait_cuda.so | grep -E "not found|cudnn|cublas|cudart" | tee -a "$out/gpu.txt" || true
    set +e
    # each step bounded (nothing here has a known duration on a GPU yet)
    timeout 150 ./build-gpu/tests/test_cuda 2>&1 | tee "$out/test_cuda.log"
    timeout 60 ./build-gpu/tests/test_nccl 2>&1 | tee "$out/test_nccl.log"  # N = 1 through NCCL
    # end to end on the GPU: a small SynGait, a short training (its evaluation at the end runs on
    # the GPU), evaluation on both devices, and the checkpoint read by the Python safetensors
    # package. Each step runs whatever the previous one did (no && chain stopping at the first
    # failure); a summary lists each step's exit status.
    e2e=/tmp/rmgait-e2e  # not under $OUT: only a few files come back from there
    mkdir -p "$e2e"
    status=()
    step() {
      local name=$1
      shift
      "$@"
      local rc=$?
      status+=("$name: exit $rc")
      echo "gpu-check: $name: exit $rc"
    }
    {
      step synth ./build-gpu/tools/rmgait synth "$e2e/syn.pack" --subjects 30 --frames 36 --seed 1 --aligned
      step train timeout 150 ./build-gpu/tools/rmgait train --config configs/quickstart.yaml --device cuda \
        --set data_cfg.dataset="$e2e/syn.pack" --set trainer_cfg.output_dir="$e2e/run" \
        --set trainer_cfg.total_iter=60 --set trainer_cfg.save_iter=60
      for dev in cuda cpu; do
        step "eval $dev" ./build-gpu/tools/rmgait eval --checkpoint "$e2e/run/latest.safetensors" \
          --device $dev --dataset "$e2e/syn.pack" --protocol casiab-st --out "$e2e/eval_$dev"
      done
      step "cuda and cpu rank-1 tables equal (informational)" cmp "$e2e/eval_cuda.csv" "$e2e/eval_cpu.csv"
      step safetensors "${py[@]}" -c 'import sys; from safetensors.numpy import load_file
t = load_file(sys.argv[1]); print(len(t), "tensors read by safetensors", sorted(t)[:3])' \
        "$e2e/run/latest.safetensors"
      printf 'gpu-check summary: %s\n' "${status[@]}"
    } 2>&1 | tee "$out/e2e.log"
    # rmgait and the PyTorch peer (the device image's python3 holds a CUDA PyTorch), side by
    # side: the Inception and GaitGL models at the configs' P x K = 8 x 16, 30 frames
    {
      for model in inception gl; do
        cfg=configs/casiab_$([ $model = gl ] && echo gaitgl || echo inception).yaml
        for mode in "f32 0" "f32 1" "bf16 0"; do
          read -r prec tf32 <<<"$mode"
          echo "== $model $prec tf32=$tf32: rmgait"
          RMGAIT_TF32=$tf32 timeout 90 ./build-gpu/tools/rmgait bench --config "$cfg" \
            --device cuda --iters 3 --precision "$prec"
          echo "== $model $prec tf32=$tf32: PyTorch"
          timeout 90 "${py[@]}" bench/peer_torch.py --device cuda --model $model --sampler 8,16 \
            --iters 3 --precision "$prec" --tf32 "$tf32" --threads 4
        done
      done
    } 2>&1 | tee "$out/bench_cuda.log"
    rm -rf "$e2e" ;;
  *)
    echo "usage: tools/gpu-check.sh bundle|run" >&2
    exit 2 ;;
esac
