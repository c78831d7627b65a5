#!/usr/bin/env bash
# Builds flashnum (release) and runs the main job: the FlashAttention-3 paper's Table 3 (RMSE of
# FP16 and FP8 attention, with and without block quantization and incoherent processing, against
# a certified MPFR reference) at seqlen 2048, head dim 128 — about a minute on 2 cores — then the
# shipped example converted to e4m3fn codes and decoded back, with the rounding error.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh
swift build -c release --product flashnum
bin=.build/release/flashnum
mkdir -p out
echo "== FlashAttention-3 Table 3, reproduced (flashnum table paper-rmse --seq-len 2048 --head-dim 128 --seeds 0-1 --rotation-seeds 0-1)"
"$bin" table paper-rmse --seq-len 2048 --head-dim 128 --seeds 0-1 --rotation-seeds 0-1
echo "== Formats and a conversion"
"$bin" formats
"$bin" convert --format e4m3fn --overflow saturate notebooks-data/examples/outliers.npy --out out/outliers.e4m3fn.npy
"$bin" convert --decode --format e4m3fn out/outliers.e4m3fn.npy --out out/outliers.e4m3fn.decoded.npy
echo "wrote out/outliers.e4m3fn.npy (codes) and out/outliers.e4m3fn.decoded.npy (their float32 values)"
if python3 -c "import numpy" 2>/dev/null; then
  python3 - <<'PY'
import numpy as np
x = np.load("notebooks-data/examples/outliers.npy"); y = np.load("out/outliers.e4m3fn.decoded.npy")
print(f"shape {x.shape}: RMSE of e4m3fn rounding {np.sqrt(np.mean((x.astype(np.float64) - y) ** 2)):.6g}, "
      f"max |x| {np.abs(x).max():.4g}")
PY
fi
