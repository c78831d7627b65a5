#!/usr/bin/env python3
"""Random FP8 mma.sync m16n8k16 tiles on a Hopper GPU, for `flashnum mma --instruction mma-e4m3-k16`
and `mma-e5m2-k16`.

    nvcc -O2 -arch=sm_90a -o mma_fp8_k16_probe Scripts/mma_fp8_k16_probe.cu
    python3 Scripts/mma_fp8_k16_random.py ./mma_fp8_k16_probe OUTDIR [TILES] [FIXTURE] [FLASHNUM]

1. Checks the probe's fragment layout: tiles of small integers (exact in FP16 and FP32) must give
   D = A·Bᵀ + C exactly; stops otherwise.
2. For e4m3 and e5m2 draws TILES tiles (default 4096 = 524 288 outputs; seed 20261130) in the modes
   of Scripts/wgmma_random.py — raw codes, values near 1 with both signs, wide exponents,
   subnormals, sparse zeros — with C random bits, near 1, ±0 or wide, runs them and saves
   OUTDIR/<format>.{a,b,c,d}.npy shaped for `flashnum mma` (A (T,16,16), B (T,8,16) codes; C, D
   (T,16,8) FP32 bits), and the first FIXTURE (default 16) tiles as OUTDIR/fixture/<format>.*.npy.
3. With FLASHNUM, runs `flashnum mma` on them and prints how many outputs equal the GPU's.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wgmma_random import accumulators, codes  # noqa: E402


def run(probe, fmt, a, b, c):
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, n) for n in ("a", "b", "c", "d")]
        for path, x, dtype in zip(paths, (a, b, c), (np.uint8, np.uint8, np.uint32)):
            np.ascontiguousarray(x, dtype=dtype).tofile(path)
        subprocess.run([probe, fmt] + paths, check=True)
        return np.fromfile(paths[3], dtype=np.uint32).reshape(c.shape)


def check_layout(probe):
    rng = np.random.default_rng(1)
    values = {1: 0x38, 2: 0x40, 3: 0x44, 4: 0x48}  # e4m3 codes of 1, 2, 3, 4
    ia, ib = rng.integers(0, 5, (8, 16, 16)), rng.integers(0, 5, (8, 8, 16))
    enc = np.vectorize(lambda v: values.get(int(v), 0))
    c = rng.integers(-8, 9, (8, 16, 8)).astype(np.float32)
    d = run(probe, "e4m3", enc(ia).astype(np.uint8), enc(ib).astype(np.uint8), c.view(np.uint32)).view(np.float32)
    expected = np.einsum("tik,tjk->tij", ia, ib) + c
    if not np.array_equal(d, expected.astype(np.float32)):
        sys.exit(f"fragment layout: {(d != expected).sum()} of {d.size} exact outputs differ; the probe's layout is wrong")
    print("fragment layout: all exact small-integer outputs equal A·Bᵀ + C", flush=True)


def main(probe, out, tiles, fixture, flashnum):
    check_layout(probe)
    os.makedirs(os.path.join(out, "fixture"), exist_ok=True)
    rng = np.random.default_rng(20261130)
    for fmt in ("e4m3", "e5m2"):
        a = np.zeros((tiles, 16, 16), np.uint32)
        b = np.zeros((tiles, 8, 16), np.uint32)
        for t in range(tiles):
            mode = t % 5
            a[t] = codes(rng, fmt, 16, 16, mode)
            b[t] = codes(rng, fmt, 8, 16, mode)
        c = accumulators(rng, tiles * 128, 0).reshape(tiles, 16, 8)
        a, b = a.astype(np.uint8), b.astype(np.uint8)
        d = run(probe, fmt, a, b, c)
        arrays = {"a": a, "b": b, "c": c, "d": d}
        for name, x in arrays.items():
            np.save(os.path.join(out, f"{fmt}.{name}.npy"), x)
            np.save(os.path.join(out, "fixture", f"{fmt}.{name}.npy"), x[:fixture])
        line = f"{fmt}: {tiles} tiles, {d.size} outputs, {int((d == 0x7FFFFFFF).sum())} NaN"
        if flashnum:
            mine = os.path.join(out, f"{fmt}.flashnum.npy")
            subprocess.run([flashnum, "mma", "--instruction", f"mma-{fmt}-k16", "--a", os.path.join(out, f"{fmt}.a.npy"),
                            "--b", os.path.join(out, f"{fmt}.b.npy"), "--c", os.path.join(out, f"{fmt}.c.npy"), "--out", mine], check=True)
            e = np.load(mine)
            line += f"; flashnum equal on {int((e == d).sum())} of {d.size}"
            modes = np.arange(tiles) % 5
            line += " (by mode: " + ", ".join(f"{m}: {int((e[modes == m] == d[modes == m]).sum())}/{d[modes == m].size}" for m in range(5)) + ")"
        print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) not in range(3, 7):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 4096,
         int(sys.argv[4]) if len(sys.argv) > 4 else 16, sys.argv[5] if len(sys.argv) > 5 else None)
