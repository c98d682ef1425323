#!/usr/bin/env bash
# rmgait bench --gate under bench/interleave.py: two benches taking turns step by step, each
# reporting every unit of work (1 warm-up + 1 timed step, 1 + 1 inference runs), and each
# still printing its own report.
#   bench_gate.sh RMGAIT SOURCE_DIR WORK_DIR
set -euo pipefail
rmgait=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmd="$rmgait bench --config $src/configs/quickstart.yaml --iters 1"
out=$(/usr/bin/python3 "$src/bench/interleave.py" "$work" "a=$cmd" "b=$cmd")
echo "$out"
for side in a b; do
  for want in "warm 1" "train 1" "infer-warm 1" "infer 1"; do
    set -- $want
    got=$(awk -v s="$side" -v k="$1" '$1 == "units" && $2 == s && $3 == k { print NF - 3 }' <<< "$out")
    [ "$got" = "$2" ] || { echo "FAIL: side $side reported ${got:-no} '$1' units, want $2"; exit 1; }
  done
  grep -q "^train step" "$work/$side.out" || { echo "FAIL: side $side printed no report"; exit 1; }
done
# a gate that is not two file descriptors is refused, naming the value
if "$rmgait" bench --config "$src/configs/quickstart.yaml" --gate 3 2> "$work/err"; then
  echo "FAIL: --gate 3 accepted"
  exit 1
fi
grep -q "expected IN,OUT" "$work/err" || { echo "FAIL: unclear error: $(cat "$work/err")"; exit 1; }
echo "bench_gate: OK"
