#!/usr/bin/env python3
"""Make the MUFU test fixture on a GPU: chosen and random float32 inputs, run through
ex2/rcp/lg2.approx.ftz.f32 by Scripts/mufu_probe.cu, saved as an (N, 4) uint32 .npy:
columns x, ex2(x), rcp(x), lg2(x) (bit patterns).

    nvcc -O2 -arch=sm_90a -o mufu_probe Scripts/mufu_probe.cu
    python3 Scripts/mufu_fixture.py ./mufu_probe OUT.npy
"""
import os
import subprocess
import sys
import tempfile

import numpy as np


def inputs():
    rng = np.random.default_rng(20261125)
    f = np.float32
    chosen = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 3.0, 1.5, np.inf, -np.inf, np.nan, -126.0, -126.5, -127.0, -149.0,
              -150.0, -200.0, -1e30, 126.0, 127.0, 127.99, 128.0, 1e30, 8.0, -8.0, 0.1, -0.1, 1e-7, -1e-7]
    bits = [0x00000001, 0x007FFFFF, 0x00800000, 0x80000001, 0x807FFFFF, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF,
            0x3F7FFFFF, 0x3F800001, 0x7FC00000, 0xFFC00000, 0x7F800001]
    x = [np.array(chosen, dtype=f).view(np.uint32), np.array(bits, dtype=np.uint32)]
    # Around integers and the ends of the ex2 table intervals.
    around = np.concatenate([np.arange(-130, 11, dtype=f), np.arange(-130, 11, dtype=f) + f(1 / 64)])
    x.append(np.concatenate([np.nextafter(around, f(-np.inf)), np.nextafter(around, f(np.inf))]).view(np.uint32))
    x.append(rng.uniform(-130, 10, 3000).astype(f).view(np.uint32))          # ex2's arguments in attention
    x.append(rng.integers(0, 2**32, 2500, dtype=np.uint64).astype(np.uint32))  # any bit pattern
    x.append(rng.uniform(0.5, 4096, 1500).astype(f).view(np.uint32))          # row sums (rcp, lg2)
    x.append((1 + rng.uniform(-1e-3, 1e-3, 500)).astype(f).view(np.uint32))   # lg2 near 1
    return np.concatenate(x).astype(np.uint32)


def save_probe_outputs(probe, x, outputs, out):
    """Runs `probe eval` on the uint32 inputs `x` (each giving `outputs` uint32 results) and saves
    the (N, 1 + outputs) array of inputs and results to `out`."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.bin"), os.path.join(d, "out.bin")
        x.tofile(src)
        subprocess.run([probe, "eval", src, dst], check=True)
        y = np.fromfile(dst, dtype=np.uint32).reshape(-1, outputs)
    assert len(y) == len(x)
    np.save(out, np.concatenate([x[:, None], y], axis=1))
    print(f"{os.path.basename(probe)}: {len(x)} inputs -> {out}")


def main(probe, out):
    save_probe_outputs(probe, inputs(), 3, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
