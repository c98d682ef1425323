#!/usr/bin/env bash
# A long run stays flat: the quickstart model (configs/quickstart.yaml: Inception-RMB, channels
# 4/8/16) trained on a small SynGait with evaluations and checkpoints along the way, long enough
# for the caches (oneDNN primitives, reordered weights, evaluation shapes) and the allocators to
# reach their steady state. Checked:
# - resident memory, as the training log records it after every 5th step: the process's own
#   (anonymous) memory, log.jsonl's anon_mib, after warm-up (the first third of the steps, two
#   evaluations included) grows by less than 5% (the largest value after warm-up against the
#   value at its end). All of it (rss_mib) is printed too: it also counts the pages of the
#   memory-mapped dataset read so far, which the kernel may drop at any time, and grows towards
#   the dataset's size as more of it is read;
# - resident memory sampled from /proc/PID/status every 0.25 s through the run, evaluations
#   included: the process's own part (RssAnon + RssShmem; the rest is mapped files, the dataset's
#   pages read so far and the program's code) after warm-up peaks less than 5% above its peak
#   during warm-up (smaps would tell the dataset's pages apart, but reading it takes the
#   process's memory lock and slowed this run by half);
# - open file descriptors, sampled with it: the fewest open in the last third of the run are no
#   more than the fewest open during warm-up (a checkpoint being written opens one for a moment;
#   a leak raises the floor);
# - checkpoints rotate: at most trainer_cfg.keep_checkpoints iter_*.safetensors are left, and
#   latest.safetensors, best.safetensors and best.json (the best evaluation's) are there.
# Prints the RSS curve (iteration, MiB) for the reliability page. usage: soak_train.sh RMGAIT
# CONFIG WORKDIR [STEPS] (default 150: the own memory is flat from about step 75).
set -euo pipefail
rmgait=$1 config=$2 work=$3 steps=${4:-150}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
fail() {
  echo "FAILED: $*"
  exit 1
}
"$rmgait" synth syn.pack --subjects 26 --frames 20 --seed 7 --aligned > /dev/null
keep=3
eval_every=$((steps / 6))
"$rmgait" train --config "$config" --set data_cfg.dataset=syn.pack \
  --set "trainer_cfg.sampler=[4, 4]" --set trainer_cfg.frames=20 \
  --set trainer_cfg.total_iter="$steps" --set trainer_cfg.log_iter=5 \
  --set trainer_cfg.save_iter=10 --set trainer_cfg.eval_iter="$eval_every" \
  --set trainer_cfg.keep_checkpoints=$keep --set "scheduler_cfg.milestones=[]" \
  --set trainer_cfg.output_dir=run > train.txt 2>&1 &
pid=$!
start=$(date +%s)
: > samples.txt
# "iteration open-descriptors own-KiB all-KiB" (the iteration from the log's last line), with
# bash builtins where it can: few processes a sample
while kill -0 "$pid" 2> /dev/null; do
  fds=("/proc/$pid/fd/"*)
  line=$(tail -n 1 run/log.jsonl 2> /dev/null) || true
  it=0
  [[ $line =~ \"iter\":([0-9]+) ]] && it=${BASH_REMATCH[1]}
  own=0 all=""
  while read -r key value _; do
    case $key in
      VmRSS:) all=$value ;;
      RssAnon: | RssShmem:) own=$((own + value)) ;;
    esac
  done < "/proc/$pid/status" 2> /dev/null || true
  [ -n "$all" ] && [ -e "${fds[0]}" ] && echo "$it ${#fds[@]} $own $all" >> samples.txt
  sleep 0.25
done
wait "$pid" || fail "training failed: $(tail -n 5 train.txt)"
echo "$steps steps in $(($(date +%s) - start)) s, $(wc -l < samples.txt) samples from /proc"

warm=$((steps / 3))
# log.jsonl -> "iteration anon_mib rss_mib" per logged step
grep -o '"anon_mib":[0-9.e+-]*\|"iter":[0-9]*\|"rss_mib":[0-9.e+-]*' run/log.jsonl | cut -d: -f2 |
  paste - - - | awk '{ print $2, $1, $3 }' > rss.txt
[ "$(wc -l < rss.txt)" -ge $((steps / 5)) ] || fail "too few log lines with anon_mib: $(head -n 3 run/log.jsonl)"
echo "resident memory (MiB) after iteration: its own (anonymous), and all of it"
awk '$1 % 25 == 0 { printf "  %d: %.1f  %.1f\n", $1, $2, $3 }' rss.txt
awk -v w="$warm" '
  $1 <= w { ref = $2 }
  $1 > w && $2 > peak { peak = $2; at = $1 }
  END {
    growth = 100 * (peak - ref) / ref
    printf "own memory after warm-up (iteration %d: %.1f MiB): at most %.1f MiB (iteration %d), %+.2f%%\n", w, ref, peak, at, growth
    exit !(growth < 5)
  }' rss.txt || fail "the process's own memory grew by 5% or more after warm-up"

awk -v w="$warm" '
  { mine = $3 / 1024 }
  $1 <= w && mine > warm_peak { warm_peak = mine }
  $1 > w && mine > peak { peak = mine; at = $1; all = $4 / 1024 }
  END {
    if (warm_peak == 0 || peak == 0) { print "too few samples"; exit 1 }
    growth = 100 * (peak - warm_peak) / warm_peak
    printf "own memory sampled every 0.25 s: peak %.1f MiB during warm-up, %.1f MiB after (iteration %d, all of it %.1f MiB), %+.2f%%\n", warm_peak, peak, at, all, growth
    exit !(growth < 5)
  }' samples.txt || fail "the process's own memory peaked 5% or more higher after warm-up"

awk -v w="$warm" -v late=$((2 * steps / 3)) '
  $1 <= w && $1 > 0 && (lo_w == "" || $2 < lo_w) { lo_w = $2 }
  $1 > late && (lo_l == "" || $2 < lo_l) { lo_l = $2 }
  $2 > hi { hi = $2 }
  END {
    if (lo_w == "" || lo_l == "") { print "no samples during warm-up or the last third"; exit 1 }
    printf "open file descriptors: at least %d during warm-up, %d in the last third (at most %d)\n", lo_w, lo_l, hi
    exit !(lo_l <= lo_w)
  }' samples.txt || fail "open file descriptors grew: $(sort -u -k2,2 samples.txt | head)"

left=$(find run/checkpoints -name 'iter_*.safetensors' | wc -l)
[ "$left" -gt 0 ] || fail "no checkpoint left in run/checkpoints"
echo "checkpoints left: $left of $((steps / 10)) written ($(ls run/checkpoints | tr '\n' ' '))"
[ "$left" -le "$keep" ] || fail "more than keep_checkpoints = $keep checkpoints left"
for f in latest.safetensors best.safetensors best.json; do
  [ -s "run/$f" ] || fail "run/$f missing"
done
echo "best: $(cat run/best.json)"
echo "the run stayed flat"
