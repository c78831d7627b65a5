#!/usr/bin/env python3
"""Make the tanh test fixture on a GPU: chosen and random float32 inputs run through
tanh.approx.f32 by Scripts/tanh_probe.cu, saved as an (N, 2) uint32 .npy: columns x, tanh(x)
(bit patterns).

    nvcc -O2 -arch=sm_90 -o tanh_probe Scripts/tanh_probe.cu
    python3 Scripts/tanh_fixture.py ./tanh_probe OUT.npy
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mufu_fixture import save_probe_outputs  # noqa: E402


def inputs():
    rng = np.random.default_rng(20261130)
    f = np.float32
    chosen = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 4.0, 8.0, -8.0, 7.999999, 2.0**-8, -(2.0**-8), 2.0**-9, 1e-30,
                       np.inf, -np.inf, np.nan, 3.0, 0.1, -0.1], dtype=f).view(np.uint32)
    bits = np.array([0x00000001, 0x007FFFFF, 0x00800000, 0x80000001, 0x7F7FFFFF, 0xFF7FFFFF, 0x7FC00000,
                     0xFFC00000, 0x7F800001, 0x3B7FFFFF, 0x40FFFFFF], dtype=np.uint32)
    # Both ends of every binade in [2^-9, 16) and of every 1/64 of it (the table's intervals and more).
    starts = np.arange(0x3B000000, 0x41800000, 1 << 17, dtype=np.int64)
    edges = np.concatenate([starts, starts - 1, starts + 1]).astype(np.uint32)
    x = [chosen, bits, edges, edges | np.uint32(0x80000000)]
    x.append(rng.uniform(-10, 10, 6000).astype(f).view(np.uint32))       # softcapped scores / softcap
    x.append(rng.uniform(-1, 1, 3000).astype(f).view(np.uint32))
    mags = np.exp2(rng.uniform(-10, 3, 6000)).astype(f)                   # log-uniform over the table
    x.append((mags * rng.choice([-1, 1], mags.size).astype(f)).view(np.uint32))
    x.append(rng.integers(0, 2**32, 2000, dtype=np.uint64).astype(np.uint32))  # any bit pattern
    return np.concatenate(x).astype(np.uint32)


def main(probe, out):
    save_probe_outputs(probe, inputs(), 1, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: tanh_fixture.py PROBE OUT.npy")
    main(sys.argv[1], sys.argv[2])
