#!/usr/bin/env bash
# Builds the C-ABI library (product FlashNumericsC, release) and copies into DEST the library, the
# Swift runtime libraries it needs (libswiftCore, libdispatch, ... from the toolchain) and MPFR/GMP,
# so that the Python package runs where no Swift toolchain is installed. glibc, libstdc++ and
# libgcc stay the system's. Usage: Scripts/build_python_library.sh DEST
set -euo pipefail
dest="$(realpath "$1")"
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift build -c release --product FlashNumericsC >&2
lib="$(swift build -c release --show-bin-path)/libFlashNumericsC.so"
mkdir -p "$dest"
cp "$lib" "$dest/"
ldd "$lib" | awk '/=>/ { print $3 }' | grep -E 'libswift|libdispatch|libBlocksRuntime|libmpfr|libgmp' | while read -r dep; do
  cp -L "$dep" "$dest/$(basename "$dep")"
done
ls "$dest" >&2
