#!/usr/bin/env bash
# Where a GPU training step spends its time, rmgait beside PyTorch, on a GPU machine
# (after `bash tools/gpu-check.sh bundle` here; carry what gpu-check.sh names):
#   bash tools/gpu-profile.sh [MODEL (default inception)] ["PRECISIONS" (default "bf16 tf32")]
# rmgait: Nsight Compute times every kernel of one training step (bench --profile-step marks it;
# the warm-up step's algorithm searches are left out), summed by kernel (bench/ncu_summary.py).
# PyTorch: torch.profiler over one step of bench/peer_torch.py (TORCH=0 skips it). TEST_CUDA=1
# first runs the CUDA parity test. Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
model=${1:-inception}
precisions=${2:-"bf16 tf32"}
. tools/gpu-env.sh
out="${OUT:-/tmp}"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
echo "ncu: ${ncu:-not found}"
gpu_ld="$PWD/build-gpu/gpu-libs:/usr/local/cuda/lib64:$gpu_pylibs:$orig_ld"
if [ "${TEST_CUDA:-0}" = 1 ]; then
  LD_LIBRARY_PATH=$gpu_ld timeout 120 ./build-gpu/tests/test_cuda 2>&1 | tail -n 30 | tee "$out/test_cuda.log"
fi
cfg=configs/casiab_$([ "$model" = gl ] && echo gaitgl || echo inception).yaml
for mode in $precisions; do
  prec=$([ "$mode" = bf16 ] && echo bf16 || echo f32)
  tf32=$([ "$mode" = tf32 ] && echo 1 || echo 0)
  echo "== $model $mode: rmgait (ncu)"
  LD_LIBRARY_PATH=$gpu_ld RMGAIT_TF32=$tf32 \
    timeout "${NCU_TIMEOUT:-240}" "$ncu" --profile-from-start off --clock-control none \
    --metrics gpu__time_duration.sum --csv --page raw --log-file "/tmp/ncu_$mode.csv" \
    ./build-gpu/tools/rmgait bench --config "$cfg" --device cuda --iters 1 --profile-step --precision "$prec" 2>&1 |
    grep -v "^inference\|^peak\|^model"
  python3 bench/ncu_summary.py "/tmp/ncu_$mode.csv" 30
  cp "/tmp/ncu_$mode.csv" "$out/" 2>/dev/null
  [ "${TORCH:-1}" = 1 ] || continue
  echo "== $model $mode: PyTorch (torch.profiler)"
  LD_LIBRARY_PATH=$orig_ld timeout "${TORCH_TIMEOUT:-120}" python3 bench/peer_torch.py --device cuda --model "$model" \
    --sampler 8,16 --iters 1 --precision "$prec" --tf32 "$tf32" --profile
done 2>&1 | tee "$out/profile_$model.log"
