#!/usr/bin/env bash
# Installs the Debian packages a build needs, only those that are missing.
# Usage: scripts/deps.sh [build|baselines|fuzz]
set -euo pipefail
want=(build-essential cmake pkg-config libabsl-dev libgtest-dev libgmock-dev
      libbenchmark-dev libhwloc-dev libssl-dev libxxhash-dev)
case "${1:-build}" in
  baselines) want+=(openmpi-bin libopenmpi-dev python3-torch python3-numpy) ;;
  # clang and its runtime libraries (libFuzzer, the sanitizers).
  fuzz) want+=(clang libclang-rt-14-dev) ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
