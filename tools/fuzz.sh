#!/usr/bin/env bash
# libFuzzer on every reader of outside bytes (tests/fuzz/fuzz_*.cpp): the restricted pickle
# reader, .npy, safetensors, the packed dataset, the YAML config with --set overrides, PNG
# decode + pretreatment, PyTorch .pt checkpoints (zip + the state-dict pickle).
#   bash tools/fuzz.sh SECONDS [TARGET...]   exploring: a fresh random seed, SECONDS per target
#   bash tools/fuzz.sh --ci [TARGET...]      CI: deterministic, the same verdict for a commit
# Both build each target with clang (-fsanitize=fuzzer,address,undefined: the reader's sources
# instrumented, the rest linked from the normal build in build/), start from the committed corpus
# (tests/fuzz/corpus/<target>) and every committed regression input
# (tests/fuzz/regressions/<target>), and count a crash, an input slower than 1 s or one that
# allocates more than 1 GB as a failure: the limits the readers must meet under the sanitizers on
# a 2-core machine. --ci replays those inputs, then mutates with a fixed seed for a fixed number
# of runs per target (kRuns below, about 20 s each on 2 cores), from a fresh copy of the corpus.
# Inputs that fail land in build-fuzz/<target>/ (crash-*, timeout-*, oom-*): fix the reader, then
# copy them to tests/fuzz/regressions/<target>/, which CTest and --ci replay from then on.
# FUZZ_JOBS (default: the number of cores) targets are built and run at a time.
# Skipped (exit 0, with a message) where clang is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=0
if [ "${1:-}" = --ci ]; then
  ci=1
  shift
else
  seconds=${1:?usage: tools/fuzz.sh SECONDS|--ci [TARGET...]}
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pickle npy safetensors packed config png torch_pt)
# --ci: mutations per target (libFuzzer's -runs), sized by each target's speed here
declare -A kRuns=([pickle]=300000 [npy]=60000 [safetensors]=40000 [packed]=50000 [config]=25000
  [png]=50000 [torch_pt]=15000)
if ! command -v clang++ > /dev/null; then
  echo "fuzz: clang++ not found (Debian: clang): skipped"
  exit 0
fi
build=${BUILD_DIR:-build}
[ -f "$build/engine/librmgait_engine.so" ] || {
  echo "fuzz: build the project first (cmake --build $build)"
  exit 1
}
dnnl_inc=$(dirname "$(find /usr/include -name dnnl.hpp -print -quit)")
common=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -I. -I"$dnnl_inc")
libs=(-L"$build/engine" -lrmgait_engine -Wl,-rpath,"$PWD/$build/engine" -lgomp)  # the unity-built static libs use OpenMP
declare -A sources=(
  [pickle]="formats/numpy_pickle.cpp formats/pickle.cpp"
  [npy]="engine/npy.cpp"
  [safetensors]="formats/safetensors.cpp"
  [packed]="data/packed.cpp"
  [config]="pipeline/config.cpp pipeline/opengait_config.cpp"
  [png]="data/image_io.cpp data/pretreat.cpp"
  [torch_pt]="formats/pickle.cpp formats/zip.cpp formats/torch_pt.cpp"
)
fmt="$build/formats/librmgait_formats.a -lzip"
declare -A extra=(
  [packed]="$build/data/librmgait_data.a $fmt"
  [config]="$build/data/librmgait_data.a $build/gait/librmgait_gait.a $build/nn/librmgait_nn.a $fmt -lyaml-cpp"
  [png]="$build/data/librmgait_data.a $fmt"
  [torch_pt]="-lzip"
)
jobs=${FUZZ_JOBS:-$(nproc)}  # targets built, then run, this many at a time
no_aslr=(env)  # --ci: run without address-space randomisation where the system allows it
if setarch "$(uname -m)" -R true 2> /dev/null; then
  no_aslr=(setarch "$(uname -m)" -R)
elif [ "$ci" = 1 ]; then
  echo "fuzz: setarch -R is not allowed here: addresses are randomised, runs may differ"
fi
build_one() {
  local t=$1 out="build-fuzz/$1"
  mkdir -p "$out"
  # --ci starts from the committed corpus alone, so that a commit always meets the same inputs
  [ "$ci" = 0 ] || rm -rf "$out/corpus"
  mkdir -p "$out/corpus"
  # shellcheck disable=SC2086
  clang++ "${common[@]}" "tests/fuzz/fuzz_$t.cpp" ${sources[$t]} ${extra[$t]:-} "${libs[@]}" \
    -o "$out/fuzz_$t" > "$out/build.txt" 2>&1 || { cat "$out/build.txt"; return 1; }
  cp -n tests/fuzz/corpus/"$t"/* "$out/corpus/" 2> /dev/null || true
}
run_one() {
  local t=$1 out="build-fuzz/$1" regressions="$PWD/tests/fuzz/regressions/$1"
  local rc=0  # libFuzzer exits 77 on a finding: recorded and reported below, not fatal here
  local how=(-max_total_time="${seconds:-0}") fixed=()
  if [ "$ci" = 1 ]; then
    # The same run every time: a fixed seed and count, no re-reading of the corpus folder on a
    # timer, and fixed addresses (comparisons of pointers feed libFuzzer's mutations, and
    # address-ordered containers its coverage)
    how=(-seed=1 -runs="${kRuns[$t]}" -reload=0)
    fixed=("${no_aslr[@]}")
  fi
  local dirs=(corpus)
  [ ! -d "$regressions" ] || dirs+=("$regressions")
  # -rss_limit_mb: the whole process (ASan's quarantine and libFuzzer's corpus included);
  # -malloc_limit_mb: any single allocation
  (cd "$out" && "${fixed[@]}" ./"fuzz_$t" "${dirs[@]}" "${how[@]}" -timeout=1 -rss_limit_mb=1024 \
    -malloc_limit_mb=1024 -print_final_stats=1 -max_len=65536 > log.txt 2>&1) || rc=$?
  echo "$rc" > "$out/exit.txt"
}
pids=()
for t in "${targets[@]}"; do
  [ ${#pids[@]} -lt "$jobs" ] || { wait "${pids[0]}" || exit 1; pids=("${pids[@]:1}"); }
  build_one "$t" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || exit 1; done
pids=()
for t in "${targets[@]}"; do
  [ ${#pids[@]} -lt "$jobs" ] || { wait "${pids[0]}"; pids=("${pids[@]:1}"); }
  if [ "$ci" = 1 ]; then
    echo "fuzz_$t: the corpus and regressions, then ${kRuns[$t]} runs from seed 1"
  else
    echo "fuzz_$t: $seconds s"
  fi
  run_one "$t" &
  pids+=($!)
done
wait
status=0
for t in "${targets[@]}"; do
  out="build-fuzz/$t"
  echo "== fuzz_$t"
  grep -E "^stat::|^#[0-9]+.*(DONE|INITED)|ERROR|SUMMARY" "$out/log.txt" | tail -n 12
  if [ "$(cat "$out/exit.txt")" != 0 ] ||
    grep -q "ERROR: libFuzzer\|ERROR: AddressSanitizer\|runtime error\|SUMMARY:" "$out/log.txt"; then
    echo "fuzz_$t: FAILED (exit $(cat "$out/exit.txt")), see $out/log.txt and" \
      "$out/crash-* / timeout-* / oom-*; the finding:"
    grep -E -A 30 -m 1 "ERROR:|runtime error" "$out/log.txt" || tail -n 30 "$out/log.txt"
    status=1
  fi
done
exit $status
