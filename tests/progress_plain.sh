#!/usr/bin/env bash
# Progress on stderr is plain lines when stderr is not a terminal (here: a pipe): no carriage
# returns, a line per tenth of the job and one at the end.  usage: progress_plain.sh RMGAIT DIR
set -euo pipefail
rmgait=$1 dir=$2
mkdir -p "$dir"
out=$("$rmgait" synth "$dir/p.pack" --subjects 3 --frames 8 --seed 1 --aligned 2>&1 | cat)
printf '%s\n' "$out"
grep -q "^synth: subjects: 3/3 " <<<"$out" || { echo "no final progress line"; exit 1; }
if grep -q $'\r' <<<"$out"; then echo "carriage return in non-terminal output"; exit 1; fi
