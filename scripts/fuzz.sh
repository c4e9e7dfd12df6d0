#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in
# build-fuzz/ and runs each for SECONDS_PER_TARGET (default 20) seconds,
# starting from its seed corpus in tests/fuzz/corpus/<target>/.  Fails if a
# target finds a crash, a leak, a timeout or undefined behaviour; the input
# that did it is kept under build-fuzz/findings/<target>/.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
BUILD_DIR=${BUILD_DIR:-build-fuzz}

scripts/deps.sh fuzz

# Only the fuzz targets and the libraries they link are built here; perf/
# and CUDA are left out so that the build stays short.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DMERIDIAN_FUZZ=ON -DMERIDIAN_BUILD_PERF=OFF -DMERIDIAN_WITH_CUDA=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target fuzz_targets

# Leak detection stays on (a decoder that leaks on hostile input is a bug);
# UBSan findings abort so that libFuzzer records them as crashes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for corpus in tests/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  bin="$BUILD_DIR/fuzz/$target"
  [ -x "$bin" ] || { echo "no fuzz target for corpus $corpus"; failed+=("$target"); continue; }
  # Run over a copy, so that what a run learns does not grow the committed
  # corpus; crash inputs go to findings/ (artifact_prefix).
  work="$BUILD_DIR/fuzz-run/$target"
  findings="$BUILD_DIR/findings/$target"
  rm -rf "$work" "$findings"
  mkdir -p "$work" "$findings"
  cp "$corpus"/* "$work"/ 2>/dev/null || true
  echo "--- $target: ${SECONDS_PER_TARGET}s"
  if "$bin" "$work" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
       >"$BUILD_DIR/fuzz-run/$target.log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)|cov: " \
      "$BUILD_DIR/fuzz-run/$target.log" | grep -E "DONE|stat::" | tr '\n' ' ' || true
    echo
  else
    echo "FAILED: $target (log: $BUILD_DIR/fuzz-run/$target.log)"
    tail -n 40 "$BUILD_DIR/fuzz-run/$target.log"
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}"
  exit 1
fi
echo "fuzzing: no findings"
