#!/usr/bin/env bash
# Builds the C-ABI library (product FlashNumericsC, release) and copies into DEST the library, the
# Swift runtime libraries it needs (libswiftCore, libdispatch, ... from the toolchain) and MPFR/GMP,
# so that the Python package runs where no Swift toolchain is installed; and the `flashnum` binary
# with the libraries it needs besides (Foundation, ICU, libcrypto, zlib). glibc, libstdc++ and
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
# The command line too (`python -m flashnumerics`), stripped, with the Foundation libraries, ICU
# data, OpenSSL's libcrypto and zlib it links (they load only when the CLI runs).
swift build -c release --product flashnum >&2
cli="$(swift build -c release --show-bin-path)/flashnum"
strip -o "$dest/flashnum" "$cli"
ldd "$cli" | awk '/=>/ { print $3 }' | grep -E 'libswift|libdispatch|libBlocksRuntime|libmpfr|libgmp|libFoundation|lib_Foundation|libcrypto|libz\.' | while read -r dep; do
  [ -e "$dest/$(basename "$dep")" ] || cp -L "$dep" "$dest/$(basename "$dep")"
done
ls "$dest" >&2
