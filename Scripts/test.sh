#!/usr/bin/env bash
# The whole test suite: installs missing system packages, then runs every test in release mode
# (the exhaustive 2^32-input tests need it). Set FLASHNUM_EXHAUSTIVE=1 for the multi-hour sweeps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift test -c release "$@"
