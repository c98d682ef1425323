#!/usr/bin/python3
"""Sums an Nsight Compute CSV (`ncu --csv --page raw --metrics gpu__time_duration.sum`) by kernel
name: the heaviest kernels of a profiled rmgait step, their launch counts and share of GPU time.

  ncu --profile-from-start off --metrics gpu__time_duration.sum --csv --page raw \
      --log-file step.csv rmgait bench ... --device cuda --iters 1 --profile-step
  python3 bench/ncu_summary.py step.csv [TOP=30]
"""
import collections
import csv
import sys


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu's own messages start otherwise
    rows = list(csv.DictReader(lines))
    total = collections.Counter()
    count = collections.Counter()
    for r in rows:
        v = r.get("gpu__time_duration.sum", "")
        try:
            ns = float(v.replace(",", ""))
        except ValueError:
            continue  # the units row
        name = r.get("Kernel Name", "?")
        total[name] += ns
        count[name] += 1
    all_ns = sum(total.values())
    print(f"{len(rows)} launches, {len(total)} kernels, {all_ns / 1e6:.2f} ms of GPU time")
    for name, ns in total.most_common(top):
        print(f"{ns / 1e6:9.3f} ms {100 * ns / all_ns:5.1f}% {count[name]:5d}x  {name[:150]}")


if __name__ == "__main__":
    main()
