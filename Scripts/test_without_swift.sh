#!/usr/bin/env bash
# The installed Python package on a machine without Swift: runs the packaging and format tests
# with PYTHON (a virtual environment's python where `pip install` put the wheel) while the Swift
# toolchain and this checkout's build products are out of sight. In a private mount namespace
# (unshare, as root) the toolchain's folder, .build/<triple> and the source package's lib/ are
# covered by empty folders, so a library or tool the wheel failed to bundle cannot be found; PATH
# is /usr/bin:/bin and LD_LIBRARY_PATH unset. Where no mount namespace can be made it says so and
# runs with only PATH and LD_LIBRARY_PATH cleared (a weaker check), never silently.
#
#   bash Scripts/test_without_swift.sh .build/python-venv/bin/python
set -euo pipefail
py=${1:?usage: test_without_swift.sh PYTHON}
root=$(cd "$(dirname "$0")/.." && pwd -P)
py=$(cd "$(dirname "$py")" && pwd)/$(basename "$py")
swift_bin=$(command -v swift || true)
toolchain=""
[ -n "$swift_bin" ] && toolchain=$(cd "$(dirname "$(readlink -f "$swift_bin")")/../.." && pwd -P)
hidden=("$root/python/flashnumerics/lib" "$root/python/build")
[ -n "$toolchain" ] && hidden+=("$toolchain")
for d in "$root"/.build/*-unknown-linux-gnu; do [ -d "$d" ] && hidden+=("$d"); done
run_tests() {
  cd "$root"
  if command -v swift >/dev/null 2>&1; then echo "test_without_swift: swift is still on PATH" >&2; return 1; fi
  env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" FLASHNUMERICS_REQUIRE_INSTALLED=1 \
    "$py" -m pytest -q -p no:cacheprovider python/tests/test_packaging.py python/tests/test_formats.py
}
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
  export -f run_tests
  export root py
  unshare -m --propagation private bash -c '
    set -euo pipefail
    empty=$(mktemp -d)
    for d in "$@"; do [ -e "$d" ] && mount --bind "$empty" "$d" && echo "test_without_swift: hidden $d" >&2; done
    if [ -n "'"$toolchain"'" ] && [ -n "$(ls -A "'"$toolchain"'")" ]; then echo "test_without_swift: the toolchain is still visible" >&2; exit 1; fi
    run_tests' bash "${hidden[@]}"
else
  echo "test_without_swift: no private mount namespace here (needs root and unshare); the toolchain stays on disk, only PATH and LD_LIBRARY_PATH are cleared" >&2
  run_tests
fi
