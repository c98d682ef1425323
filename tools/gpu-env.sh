# Sourced by tools/gpu-check.sh and tools/gpu-profile.sh on a GPU machine: the CUDA libraries'
# folders (the toolkit's, else the pip wheels that the device image's PyTorch brings) in
# $gpu_pylibs, and the machine's own library path in $orig_ld (Python keeps it: gpu-libs holds
# Debian's older libstdc++, which the image's PyTorch cannot load).
orig_ld=${LD_LIBRARY_PATH:-}
gpu_pylibs=$(python3 -c 'import importlib, os
d = []
for m in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cuda_runtime", "nvidia.nccl"):
    try: d += [os.path.join(p, "lib") for p in importlib.import_module(m).__path__]
    except Exception: pass
print(":".join(d))' 2>/dev/null || true)
