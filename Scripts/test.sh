#!/usr/bin/env bash
# The whole test suite: installs missing system packages, then runs every test in release mode
# (the exhaustive 2^32-input tests need it). Set FLASHNUM_EXHAUSTIVE=1 for the multi-hour sweeps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
# No test uses @testable imports: without them the modules are built as `swift build -c release`
# builds them, so the Python library and the CLI the wheel bundles reuse this build.
swift test -c release --disable-testable-imports "$@"
