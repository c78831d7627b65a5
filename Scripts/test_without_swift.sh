#!/usr/bin/env bash
# The installed Python package on a machine without Swift: runs the packaging and format tests
# with PYTHON (a virtual environment's python where `pip install` put the wheel) while the Swift
# toolchain, this checkout's build products and the system's MPFR and GMP are out of sight.
#
# In a private mount namespace (unshare, as root) empty folders cover the toolchain (its own
# folder, or where it lives in /usr or /usr/local: lib/swift, lib/swift_static and the swift*
# programs), every folder under .build except the virtual environment, the .build-* folders and
# the source package's lib/; empty files cover the system's libmpfr and libgmp. A library or tool
# the wheel failed to bundle (the Swift runtime, MPFR, GMP, the flashnum binary) then cannot be
# found. PATH is /usr/bin:/bin and the environment otherwise empty. Where no mount namespace can be
# made it says so and runs with only the environment cleared (a weaker check), never silently.
#
#   bash Scripts/test_without_swift.sh .build/python-venv/bin/python
set -euo pipefail
py=${1:?usage: test_without_swift.sh PYTHON}
root=$(cd "$(dirname "$0")/.." && pwd -P)
py=$(cd "$(dirname "$py")" && pwd)/$(basename "$py")
venv=$(cd "$(dirname "$py")/.." && pwd -P)

# What to hide: folders (covered by an empty folder) and files (covered by an empty file).
folders=("$root/python/flashnumerics/lib" "$root/python/build")
files=()
if swift_bin=$(command -v swift); then
  prefix=$(cd "$(dirname "$(readlink -f "$swift_bin")")/.." && pwd -P)   # .../usr
  top=$(cd "$prefix/.." && pwd -P)
  case "$prefix" in
    /usr | /usr/local)   # a toolchain installed into the system: its libraries and programs
      for d in "$prefix/lib/swift" "$prefix/lib/swift_static"; do [ -d "$d" ] && folders+=("$d"); done
      for f in "$prefix"/bin/swift*; do [ -f "$f" ] && files+=("$f"); done ;;
    *) [ "$top" != / ] && folders+=("$top") || folders+=("$prefix") ;;
  esac
fi
for d in "$root"/.build/* "$root"/.build-*; do
  [ -d "$d" ] && [ ! -L "$d" ] && [ "$(cd "$d" && pwd -P)" != "$venv" ] && folders+=("$d")
done
for f in /usr/lib/*/libmpfr.so* /usr/lib/*/libgmp.so* /lib/*/libmpfr.so* /lib/*/libgmp.so*; do
  [ -f "$f" ] && [ ! -L "$f" ] && files+=("$f")
done

run_tests() {
  cd "$root"
  env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" FLASHNUMERICS_REQUIRE_INSTALLED=1 \
    "$py" -m pytest -q -p no:cacheprovider python/tests/test_packaging.py python/tests/test_formats.py
}

if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
  # The empty folder and file outlive the namespace (a mount's source cannot be removed inside it).
  empty_dir=$(mktemp -d); empty_file=$(mktemp)
  trap 'rm -rf "$empty_dir" "$empty_file"' EXIT
  export root py empty_dir empty_file
  export -f run_tests
  unshare -m --propagation private bash -c '
    set -euo pipefail
    nfolders=$1; shift
    i=0
    for p in "$@"; do
      if [ "$i" -lt "$nfolders" ]; then source=$empty_dir; else source=$empty_file; fi
      i=$((i + 1))
      mount --bind "$source" "$p" || { echo "test_without_swift: cannot hide $p" >&2; exit 1; }
      echo "test_without_swift: hidden $p" >&2
    done
    if env -i PATH=/usr/bin:/bin sh -c "command -v swift" >/dev/null; then echo "test_without_swift: swift is still on PATH" >&2; exit 1; fi
    run_tests' bash "${#folders[@]}" "${folders[@]}" "${files[@]}"
else
  echo "test_without_swift: no private mount namespace here (needs root and unshare); the toolchain and build products stay on disk, only the environment is cleared" >&2
  run_tests
fi
