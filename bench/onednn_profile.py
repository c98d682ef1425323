#!/usr/bin/env python3
"""Where a CPU training step's oneDNN time goes, from oneDNN's own execution log.

    ONEDNN_VERBOSE=1 OMP_NUM_THREADS=2 build/tools/rmgait bench --config CFG --iters 2 \
        2>/dev/null > /tmp/verbose.txt
    python3 bench/onednn_profile.py /tmp/verbose.txt [STEPS]

STEPS: the training steps the log holds (bench runs one warm-up step, then --iters; default 3).
Prints, per training step, the time in convolutions, reorders and other primitives, and each
convolution problem's time and GFLOP/s. Single-sequence (mb1) problems are the bench's inference
and are left out of the per-step sums.
"""
import collections
import re
import sys


def main():
    path = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = [l.strip().split(",") for l in open(path) if l.startswith("onednn_verbose,exec")]
    if not rows:
        sys.exit(f"{path}: no 'onednn_verbose,exec' lines (was ONEDNN_VERBOSE=1 set?)")
    kinds = collections.Counter()
    convs = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for r in rows:
        kind, prop, problem, ms = r[3], r[5], r[-2], float(r[-1])
        if problem.startswith("mb1_") or problem.startswith("1x"):
            continue  # inference on one sequence
        kinds[kind] += ms
        if kind == "convolution":
            d = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", problem)}
            flops = 2 * d["mb"] * d["oc"] * d["od"] * d["oh"] * d["ow"] * d["ic"]
            flops *= d["kd"] * d["kh"] * d["kw"]
            c = convs[(prop, problem.split("_iw")[0])]
            c[0] += 1
            c[1] += ms
            c[2] += flops
    total = sum(kinds.values())
    print(f"per training step ({steps} in the log): oneDNN {total / steps:.0f} ms")
    for kind, ms in kinds.most_common():
        print(f"  {kind:20s} {ms / steps:8.1f} ms  {100 * ms / total:5.1f}%")
    print("convolutions (all steps):  ms  calls  GFLOP/s  problem")
    for (prop, problem), (n, ms, flops) in sorted(convs.items(), key=lambda kv: -kv[1][1]):
        print(f"  {ms:9.1f} {n:5d} {flops / ms / 1e6:8.1f}  {prop:17s} {problem}")


if __name__ == "__main__":
    main()
