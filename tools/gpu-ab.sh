#!/usr/bin/env bash
# A GPU change against the build before it, on one lent device machine, in one call:
#   here:   mkdir -p gpu-old && cp build-gpu/tools/rmgait build-gpu/gpu-libs/librmgait_{cuda,engine}.so gpu-old/
#           (the build before the change; gpu-old/ is ignored by git), then make the change and
#           bash tools/gpu-check.sh bundle
#   there:  bash tools/gpu-ab.sh        # carry gpu-old too (5 MB)
# Runs the CUDA parity test (and NCCL with one rank), then times `rmgait bench` at the configs'
# P x K = 8 x 16, 30 frames, for the new build, the old one and the PyTorch peer, one after the
# other per mode (the ratios of one run are the figures), and profiles the new bf16 step with
# Nsight Compute (bench/ncu_summary.py). MODES (default "f32 bf16"; tf32 = f32 with RMGAIT_TF32=1)
# and MODELS (default "inception gl") choose the rows. Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/gpu-env.sh
out="${OUT:-/tmp}"
new_ld="$PWD/build-gpu/gpu-libs:/usr/local/cuda/lib64:$gpu_pylibs:$orig_ld"
old_ld="$PWD/gpu-old:$new_ld"  # the old engine and CUDA module first (rmgait's RUNPATH is weaker)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
LD_LIBRARY_PATH=$new_ld timeout 180 ./build-gpu/tests/test_cuda >"$out/test_cuda.log" 2>&1
tests_rc=$?
grep -E "ERROR|values|logged|test cases|assertions|Status" "$out/test_cuda.log" | head -n 60
LD_LIBRARY_PATH=$new_ld timeout 60 ./build-gpu/tests/test_nccl >"$out/test_nccl.log" 2>&1
nccl_rc=$?
tail -n 3 "$out/test_nccl.log"
for model in ${MODELS:-inception gl}; do
  cfg=configs/casiab_$([ "$model" = gl ] && echo gaitgl || echo inception).yaml
  for mode in ${MODES:-f32 bf16}; do
    prec=$([ "$mode" = bf16 ] && echo bf16 || echo f32)
    tf32=$([ "$mode" = tf32 ] && echo 1 || echo 0)
    for side in new old; do
      [ -x gpu-old/rmgait ] || [ $side = new ] || continue
      bin=$([ $side = new ] && echo ./build-gpu/tools/rmgait || echo ./gpu-old/rmgait)
      ld=$([ $side = new ] && echo "$new_ld" || echo "$old_ld")
      echo "== $model $mode: rmgait ($side)"
      LD_LIBRARY_PATH=$ld RMGAIT_TF32=$tf32 timeout 90 "$bin" bench --config "$cfg" \
        --device cuda --iters 3 --precision "$prec" 2>&1 | grep -E "train step|device memory"
    done
    echo "== $model $mode: PyTorch"
    LD_LIBRARY_PATH=$orig_ld timeout 90 python3 bench/peer_torch.py --device cuda --model "$model" \
      --sampler 8,16 --iters 3 --precision "$prec" --tf32 "$tf32" --threads 4 |
      grep -E "train_s|peak_gpu"
  done
done 2>&1 | tee "$out/bench_ab.log"
[ "${PROFILE:-1}" = 1 ] && NCU_TIMEOUT=90 TORCH=0 bash tools/gpu-profile.sh inception bf16 >"$out/profile.log" 2>&1
tail -n 40 "$out/profile.log" 2>/dev/null | head -n 34
echo "gpu-ab: test_cuda exit $tests_rc, test_nccl exit $nccl_rc"
[ "$tests_rc" = 0 ] && [ "$nccl_rc" = 0 ]  # the script's status: the tests'
