#!/usr/bin/env bash
# The H100 runs behind Reports/fa3-crosscheck.md and the test fixtures (MUFU and FA3 kernel
# outputs). Run from the repository root on a machine with an H100, Python with PyTorch, the
# fa3-fwd wheel installed, nvcc, and a flashnum binary (FLASHNUM, default .build/release/flashnum;
# build it with `swift build -c release --static-swift-stdlib` to carry it to such a machine).
#
#   OUT=results bash Scripts/h100_crosscheck.sh
#
# Writes to $OUT: mufu-h100-hashes.bin (chunk hashes of ex2/rcp/lg2 over all 2^32 inputs),
# mufu-h100.npy (fixture: x, ex2, rcp, lg2 bits), crosscheck.md / .json (standard cases, with
# ablation), crosscheck-cases.tar.xz.* (every case's inputs and kernel outputs, for replay with
# `flashnum crosscheck --kernel-outputs`), and the small cases' kernel outputs under fixture/.
set -u
FLASHNUM=${FLASHNUM:-.build/release/flashnum}
OUT=${OUT:-results}
WORK=${WORK:-/tmp/fa3-crosscheck}
REFERENCE_BITS=${REFERENCE_BITS:-64}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch, importlib.metadata as m; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'fa3-fwd', m.version('fa3-fwd'))"

echo "== MUFU: all 2^32 inputs"
nvcc -O2 -arch=sm_90a -o /tmp/mufu_probe Scripts/mufu_probe.cu
/tmp/mufu_probe hashes "$OUT/mufu-h100-hashes.bin"
time "$FLASHNUM" mufu --check "$OUT/mufu-h100-hashes.bin"
python3 Scripts/mufu_fixture.py /tmp/mufu_probe "$OUT/mufu-h100.npy"

echo "== FA3 kernel vs emulator"
rm -rf "$WORK" "$WORK-fixture"
time "$FLASHNUM" crosscheck --work-dir "$WORK" --reference-bits "$REFERENCE_BITS" --ablation \
  --out "$OUT/crosscheck.md" --save-fixture "$WORK-fixture" --json > "$OUT/crosscheck.json"
tar cf - -C "$(dirname "$WORK")" "$(basename "$WORK")" "$(basename "$WORK")-fixture" | xz -T0 -3 | split -b 15M - "$OUT/crosscheck-cases.tar.xz."
ls -la "$OUT"
