#!/usr/bin/env bash
# Installs the Debian packages FlashNumerics needs (MPFR, GMP, OpenSSL's libcrypto for the
# tests' SHA-256, pkg-config, rsvg-convert for the reports' PNG figures) when any is missing. Needs root or sudo for apt-get.
set -euo pipefail
missing=()
packages=(libmpfr-dev libgmp-dev libssl-dev pkg-config librsvg2-bin)
# --slurm: also a single-node Slurm cluster's daemons and client, for the job-array test.
[ "${1:-}" = "--slurm" ] && packages+=(slurmctld slurmd slurm-client munge)
for pkg in "${packages[@]}"; do
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
