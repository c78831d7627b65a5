#!/usr/bin/env bash
# The fast test subset under AddressSanitizer (a debug build in .build/asan): the parsers and
# their fuzzers, the malformed-input suite through the sanitized flashnum binary, the number
# and reporting modules. Leak detection is off: what it reports at exit is the Swift runtime's
# and Foundation's one-time allocations, not this package's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
# The sanitizer reserves terabytes of address space: the suite's 1 GiB ulimit cannot apply.
export FLASHNUM_SANITIZED=1
export FLASHNUM_FUZZ_SECONDS="${FLASHNUM_FUZZ_SECONDS:-5}"
swift build --build-tests --sanitize=address --scratch-path .build/asan
swift test --skip-build --sanitize=address --scratch-path .build/asan \
  --filter 'NPYTests|FuzzTests|ReportingTests|PreciseTests|MeasurementTests|ExperimentsTests|MatrixMultiplyTests|MalformedInputTests|HostileInputTests|flashnumTests.CLITests/' "$@"
