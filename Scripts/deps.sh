#!/usr/bin/env bash
# Installs the Debian packages FlashNumerics needs (MPFR, GMP, OpenSSL's libcrypto for the
# tests' SHA-256, pkg-config) when any is missing. Needs root or sudo for apt-get.
set -euo pipefail
missing=()
for pkg in libmpfr-dev libgmp-dev libssl-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
