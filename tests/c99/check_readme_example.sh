#!/usr/bin/env bash
# Fails when README.md's C example and readme_example.c (after its two-line
# header comment) differ.
set -euo pipefail
readme=$1 example=$2
diff <(sed -n '/^```c$/,/^```$/p' "$readme" | sed '1d;$d') <(tail -n +3 "$example")
