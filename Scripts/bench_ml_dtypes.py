#!/usr/bin/env python3
"""Peer benchmark for `flashnum bench convert`: ml_dtypes (numpy for fp16) float32 -> format
encode (round-to-nearest-even, the only mode they have) and decode, ns per element, one thread,
median of repeated runs, on inputs of the same distribution (standard normal times 2^k, k uniform
in [-12, 12]). Every preset ml_dtypes has: e4m3fn, e5m2, e4m3fnuz, e5m2fnuz, e4m3, bf16, fp16,
e8m0 (float8_e8m0fnu).

Usage: python3 Scripts/bench_ml_dtypes.py [--count N] [--repeats R] [--json]   (pip install ml_dtypes)
With --json the last line is one JSON object: {"ml_dtypes", "numpy", "rows": [{"format",
"encode_ns", "decode_ns"}]}.
"""
import argparse
import json
import time

import ml_dtypes
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--count", type=int, default=1 << 22)
p.add_argument("--repeats", type=int, default=15)
p.add_argument("--json", action="store_true")
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


types = [(name, getattr(ml_dtypes, attr)) for name, attr in
         [("e4m3fn", "float8_e4m3fn"), ("e5m2", "float8_e5m2"), ("e4m3fnuz", "float8_e4m3fnuz"),
          ("e5m2fnuz", "float8_e5m2fnuz"), ("e4m3", "float8_e4m3"), ("bf16", "bfloat16"), ("e8m0", "float8_e8m0fnu")]
         if hasattr(ml_dtypes, attr)] + [("fp16", np.float16)]
rows = []
for name, t in types:
    src = np.abs(x) if name == "e8m0" else x   # e8m0 has no sign
    y = src.astype(t)
    rows.append({"format": name, "encode_ns": median_ns(lambda: src.astype(t)), "decode_ns": median_ns(lambda: y.astype(np.float32))})
if a.json:
    print(json.dumps({"ml_dtypes": ml_dtypes.__version__, "numpy": np.__version__, "rows": rows}))
else:
    print(f"ml_dtypes {ml_dtypes.__version__}, numpy {np.__version__}: {a.count} elements, median of {a.repeats} runs, ns/element")
    print("| format | encode | decode |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['format']} | {r['encode_ns']:.3f} | {r['decode_ns']:.3f} |")
