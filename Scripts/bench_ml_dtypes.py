#!/usr/bin/env python3
"""Peer benchmark for `flashnum bench convert`: ml_dtypes (numpy for fp16) float32 -> format
encode (round-to-nearest-even) and decode, ns per element, one thread, median of repeated runs,
on inputs of the same distribution (standard normal times 2^k, k uniform in [-12, 12]).

Usage: python3 Scripts/bench_ml_dtypes.py [--count N] [--repeats R]   (pip install ml_dtypes)
"""
import argparse
import time

import ml_dtypes
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--count", type=int, default=1 << 22)
p.add_argument("--repeats", type=int, default=15)
a = p.parse_args()
rng = np.random.default_rng(1)
x = (rng.standard_normal(a.count) * 2.0 ** rng.integers(-12, 13, a.count)).astype(np.float32)


def median_ns(f):
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter_ns()
        f()
        times.append(time.perf_counter_ns() - t)
    return sorted(times)[len(times) // 2] / a.count


print(f"ml_dtypes {ml_dtypes.__version__}, numpy {np.__version__}: {a.count} elements, median of {a.repeats} runs, ns/element")
print("| format | encode | decode |")
print("|---|---|---|")
for name, t in [("e4m3fn", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2),
                ("bf16", ml_dtypes.bfloat16), ("fp16", np.float16)]:
    y = x.astype(t)
    print(f"| {name} | {median_ns(lambda: x.astype(t)):.3f} | {median_ns(lambda: y.astype(np.float32)):.3f} |")
