#!/usr/bin/env bash
# Builds Meridian and runs the main job: a local 4-peer all-reduce benchmark
# (meridian-run starts the coordinator and the peers) printing the
# nccl-tests-style table.  Extra arguments go to all_reduce_perf.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-b 16 -e 64M -f 4 -n 10 -w 3)
exec build/bin/meridian-run -n 4 --timeout 600 -- build/bin/all_reduce_perf "${args[@]}"
