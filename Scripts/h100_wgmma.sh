#!/usr/bin/env bash
# The H100 run behind the random wgmma fixtures (Tests/HopperTests/Fixtures/h100-wgmma-random):
# 10^6 random cases per form through Scripts/wgmma_probe.cu, each compared with `flashnum mma`.
#
#   OUT=results FLASHNUM=.build/release/flashnum bash Scripts/h100_wgmma.sh [COUNT]
set -u
FLASHNUM=${FLASHNUM:-.build/release/flashnum}
OUT=${OUT:-results}
COUNT=${1:-1000000}
WORK=${WORK:-/tmp/wgmma}
mkdir -p "$OUT" "$WORK"
nvcc -O2 -gencode arch=compute_90a,code=sm_90a -o /tmp/wgmma_probe Scripts/wgmma_probe.cu || exit 1
python3 Scripts/wgmma_random.py /tmp/wgmma_probe "$WORK" "$COUNT" 512 || exit 1
for form in e4m3.e4m3 e5m2.e5m2 e4m3.e5m2 e5m2.e4m3 bf16 f16; do
  case $form in
    bf16) instruction=wgmma-bf16-k16 ;;
    f16) instruction=wgmma-f16-k16 ;;
    *) instruction=wgmma-${form%.*}-${form#*.}-k32 ;;
  esac
  "$FLASHNUM" mma --instruction "$instruction" --a "$WORK/$form.a.npy" --b "$WORK/$form.b.npy" \
    --c "$WORK/$form.c.npy" --out "$WORK/$form.model.npy" || exit 1
  python3 -c "
import numpy as np, sys
h = np.load('$WORK/$form.d.npy').ravel(); m = np.load('$WORK/$form.model.npy').ravel()
bad = np.nonzero(h != m)[0]
print('$instruction: %d/%d H100 outputs equal the model' % (len(h) - len(bad), len(h)))
for i in bad[:5]: print('  case %d: H100 0x%08x model 0x%08x' % (i, h[i], m[i]))
"
done
tar cf "$OUT/h100-wgmma-random.tar" -C "$WORK" fixture
