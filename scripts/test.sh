#!/usr/bin/env bash
# Builds Meridian and runs the whole test suite (unit + multi-process).
# BUILD_DIR and CMake arguments as for scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/build.sh "$@"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 -j2
