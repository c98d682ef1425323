#!/usr/bin/env python3
"""Where a CPU training step's oneDNN time goes, from oneDNN's own execution log.

    ONEDNN_VERBOSE=1 OMP_NUM_THREADS=2 build/tools/rmgait bench --config CFG --iters 2 \
        2>/dev/null > /tmp/verbose.txt
    python3 bench/onednn_profile.py /tmp/verbose.txt

Prints, per timed training step (the bench's warm-up step, with oneDNN's JIT compilation and
the first touch of every buffer, is left out), the time in convolutions, reorders and other
primitives, and each convolution problem's time and GFLOP/s. Single-sequence (mb1) problems are
the bench's inference and are left out.
"""
import collections
import re
import sys


def main():
    path = sys.argv[1]
    rows = [l.strip().split(",") for l in open(path) if l.startswith("onednn_verbose,exec")]
    if not rows:
        sys.exit(f"{path}: no 'onednn_verbose,exec' lines (was ONEDNN_VERBOSE=1 set?)")
    # Training rows only (single-sequence mb1 problems are the bench's inference), split into
    # steps where the step's first convolution comes again; the first step (the warm-up: oneDNN's
    # JIT compilation, first touch of every buffer) is left out.
    rows = [r for r in rows if not (r[-2].startswith("mb1_") or r[-2].startswith("1x"))]
    first = next(tuple(r[3:-1]) for r in rows if r[3] == "convolution")
    steps = [[]]  # steps[0]: what precedes the warm-up's first convolution
    for r in rows:
        if tuple(r[3:-1]) == first:
            steps.append([])
        steps[-1].append(r)
    if len(steps) < 3:
        sys.exit(f"{path}: {len(steps) - 1} training step(s) in the log; run bench with --iters >= 1")
    timed = steps[2:]
    n = len(timed)
    kinds = collections.Counter()
    convs = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for r in (r for step in timed for r in step):
        kind, prop, problem, ms = r[3], r[5], r[-2], float(r[-1])
        kinds[kind] += ms
        if kind == "convolution":
            d = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", problem)}
            g = lambda k: d.get(k, 1)  # 2D problems (frame stacks) have no depth
            flops = 2 * d["mb"] * d["oc"] * g("od") * d["oh"] * d["ow"] * d["ic"]
            flops *= g("kd") * d["kh"] * d["kw"]
            c = convs[(prop, problem.split("_iw")[0])]
            c[0] += 1
            c[1] += ms
            c[2] += flops
    total = sum(kinds.values())
    print(f"per training step ({n} after the warm-up step): oneDNN {total / n:.0f} ms")
    for kind, ms in kinds.most_common():
        print(f"  {kind:20s} {ms / n:8.1f} ms  {100 * ms / total:5.1f}%")
    conv_ms = sum(c[1] for c in convs.values())
    conv_flops = sum(c[2] for c in convs.values())
    print(f"convolutions: {conv_flops / n / 1e9:.1f} GFLOP a step at {conv_flops / conv_ms / 1e6:.1f}"
          " GFLOP/s")
    print(f"convolutions ({n} steps):  ms  calls  GFLOP/s  problem")
    for (prop, problem), (calls, ms, flops) in sorted(convs.items(), key=lambda kv: -kv[1][1]):
        print(f"  {ms:9.1f} {calls:5d} {flops / ms / 1e6:8.1f}  {prop:17s} {problem}")


if __name__ == "__main__":
    main()
