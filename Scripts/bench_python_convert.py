#!/usr/bin/env python3
"""Calling overhead of the Python package: ns per element of `flashnumerics.convert` on 2^22
float32 values (one thread, median of 15 calls, the same inputs as `flashnum bench convert`'s
kind: a standard normal scaled by 2^k, k uniform in [-12, 12]) beside the in-process figure of
`flashnum bench convert` measured in the same run. Usage: python3 Scripts/bench_python_convert.py [FLASHNUM]"""
import re
import subprocess
import sys
import time

import numpy as np

import flashnumerics as fn

binary = sys.argv[1] if len(sys.argv) > 1 else ".build/release/flashnum"
table = subprocess.run([binary, "bench", "convert", "--repeats", "15"], check=True, capture_output=True, text=True).stdout
cli = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| (\S+) \| ([0-9.]+) \|", table, re.M)}
rng = np.random.default_rng(1)
n = 1 << 22
x = (rng.standard_normal(n) * np.exp2(rng.integers(-12, 13, n))).astype(np.float32)
print("| format | flashnum bench convert (ns/element) | flashnumerics.convert (ns/element) | ratio |")
print("|---|---|---|---|")
for name in ["e4m3fn", "e5m2", "bf16", "fp16"]:
    times = []
    for _ in range(15):
        start = time.perf_counter()
        fn.convert(x, name, threads=1)
        times.append(time.perf_counter() - start)
    ns = sorted(times)[len(times) // 2] / n * 1e9
    print(f"| {name} | {cli[name]:.3f} | {ns:.3f} | {ns / cli[name]:.2f}× |")
