"""Benchmark: the example model's forward with emulated attention against torch's own, same run.

    python python/benchmarks/model_forward.py [--seqlen 512] [--repeats 5] [--threads 2] [--json]

Prints one row per scheme: the median wall time of `TinyGQATransformer()(tokens)` (batch 1,
`--seqlen` tokens) with torch's own SDPA and under `flashnumerics.torch.emulate(scheme)`, and
their ratio. torch and the emulator both get `--threads` threads; medians of `--repeats` runs
after one warm-up run each.
"""
import argparse
import json
import statistics
import time

import torch

import flashnumerics.torch as ft
from flashnumerics.torch.example import TinyGQATransformer, example_tokens


def median_seconds(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqlen", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--schemes", default="fp32,bf16,fa3-fp8-per-head,fa3-fp8-per-head-hadamard")
    parser.add_argument("--json", action="store_true", help="one JSON object per row instead of a Markdown table")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    model, tokens = TinyGQATransformer().eval(), example_tokens(seqlen=a.seqlen)
    with torch.no_grad():
        own = median_seconds(lambda: model(tokens), a.repeats)
        rows = []
        for scheme in a.schemes.split(","):
            def emulated():
                with ft.emulate(scheme=scheme, threads=a.threads):
                    model(tokens)
            t = median_seconds(emulated, a.repeats)
            rows.append(dict(scheme=scheme, seqlen=a.seqlen, threads=a.threads, torch_ms=own * 1e3, emulated_ms=t * 1e3, ratio=t / own))
    if a.json:
        for r in rows:
            print(json.dumps(r))
        return
    print("| scheme | seqlen | threads | torch forward (ms) | emulated forward (ms) | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scheme']} | {r['seqlen']} | {r['threads']} | {r['torch_ms']:.1f} | {r['emulated_ms']:.1f} | {r['ratio']:.1f}× |")


if __name__ == "__main__":
    main()
