#!/usr/bin/env bash
# The engine as a package of its own, used from outside the tree:
#   installed  installs the engine from this build (cmake --install --component engine);
#   standalone configures and builds engine/ alone (cmake -S engine), then installs it.
# Then: the installed files name no build or source folder (the package is moved before use, to
# prove it relocatable); every installed header compiles on its own; examples/engine (a CMake
# project of its own) finds the package, builds, trains its small model, and must reach 90%
# accuracy on clips it has never seen.
# usage: engine_package.sh installed|standalone SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
mode=$1 src=$2 build=$3 work=$4
fail() {
  echo "FAILED: $*"
  exit 1
}
rm -rf "$work" && mkdir -p "$work"
if [ "$mode" = standalone ]; then
  # the CUDA module is left out here (its nvcc build takes minutes); its install rule is the
  # library's, beside it
  cmake -S "$src/engine" -B "$work/build" -DENABLE_CUDA=OFF -DCMAKE_UNITY_BUILD=ON \
    > "$work/configure.txt" 2>&1 || fail "configure: $(tail -n 20 "$work/configure.txt")"
  others='(find|found).*\b(yaml-cpp|cli11|nlohmann|mpi|libzip|zip|stb)\b'
  if grep -Eiq "$others" "$work/configure.txt" "$work/build/CMakeCache.txt"; then
    fail "the engine alone looked for more than it needs: $(grep -Ei "$others" "$work/configure.txt")"
  fi
  cmake --build "$work/build" -j "$(nproc)" > "$work/build.txt" 2>&1 ||
    fail "build: $(tail -n 20 "$work/build.txt")"
  build=$work/build
fi
cmake --install "$build" --component engine --prefix "$work/prefix" > "$work/install.txt" 2>&1 ||
  fail "install: $(tail -n 20 "$work/install.txt")"
mv "$work/prefix" "$work/moved"
prefix=$work/moved
if grep -rl "$src\|$build\|$work/prefix" "$prefix/lib/cmake" > /dev/null; then
  fail "absolute paths in the package: $(grep -rn "$src\|$build\|$work/prefix" "$prefix/lib/cmake")"
fi
ls "$prefix"/lib/librmgait_engine.so.0 > /dev/null || fail "no versioned library (SOVERSION)"
[ -f "$prefix/lib/cmake/rmgait_engine/rmgait_engine-config-version.cmake" ] ||
  fail "no package version file"
n=0
for h in "$prefix"/include/rmgait/engine/*.h "$prefix"/include/rmgait/engine/math/*.h; do
  rel=${h#"$prefix/include/rmgait/"}
  echo "#include <$rel>" | g++ -std=c++17 -fsyntax-only -x c++ -I "$prefix/include/rmgait" - ||
    fail "$rel does not compile on its own"
  n=$((n + 1))
done
echo "$n installed headers compile on their own"
cmake -S "$src/examples/engine" -B "$work/example" -DCMAKE_PREFIX_PATH="$prefix" \
  > "$work/example-configure.txt" 2>&1 || fail "example configure: $(tail -n 20 "$work/example-configure.txt")"
cmake --build "$work/example" > "$work/example-build.txt" 2>&1 ||
  fail "example build: $(tail -n 20 "$work/example-build.txt")"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$work/example/moving_shapes" | tee "$work/run.txt"
acc=$(sed -n 's/.*held-out clips: loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$work/run.txt")
[ -n "$acc" ] || fail "the example printed no accuracy"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "held-out accuracy $acc is below 0.9"
echo "the engine ($mode, then installed and moved) trains the example to $acc"
