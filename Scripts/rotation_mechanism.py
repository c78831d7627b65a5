#!/usr/bin/env python3
"""Why a random Hadamard rotation can hurt FP8 attention: a measurement independent of the
emulator (NumPy in float64, FP8 by ml_dtypes), printed as Markdown.

For the FA3 paper's outlier distribution N(0,1) + N(0, std²)·Bernoulli(0.001) and outlier std 1,
10, 100 and 1000, over 8 input seeds (each with its own rotation seed): the RMSE of attention
when only Q, only K, only V or all three are stored in e4m3 (one scale per tensor, amax/448,
round to nearest even, saturating), with and without the rotation M = diag(s)·H/√d; and, in the
query rows that hold an outlier, the share of the score error from rounding Q that is one common
factor of the row (err_i ≈ a·S_i), which a softmax over that row absorbs as a change of
temperature rather than of ranking.

    python3 Scripts/rotation_mechanism.py > Reports/rotation-mechanism.md
"""
import sys

import ml_dtypes
import numpy as np

N, D, P = 256, 128, 0.001
STDS = [1, 10, 100, 1000]
SEEDS = range(8)


def hadamard(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def e4m3(x):
    """x stored in e4m3fn with one scale amax/448 (as the emulator's per-tensor scaling)."""
    scale = np.abs(x).max() / 448
    return (x / scale).astype(ml_dtypes.float8_e4m3fn).astype(np.float64) * scale


def attention(q, k, v):
    s = q @ k.T / np.sqrt(D)
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    return (p / p.sum(axis=1, keepdims=True)) @ v


def summary(values):
    v = np.asarray(values)
    return f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]"


def main():
    h = hadamard(D) / np.sqrt(D)
    rmse = {}      # (std, rotated, quantized) -> [per seed]
    common = {}    # (std, rotated) -> [per outlier row]
    for std in STDS:
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            x = {n: rng.standard_normal((N, D)) + rng.standard_normal((N, D)) * std * (rng.random((N, D)) < P) for n in "qkv"}
            outlier_rows = np.abs(x["q"]).max(axis=1) > 6   # rows of Q that hold an outlier (std ≥ 10)
            signs = np.random.default_rng(1000 + seed).choice([-1.0, 1.0], D)
            truth = attention(x["q"], x["k"], x["v"])
            for rotated in (False, True):
                m = np.diag(signs) @ h if rotated else np.eye(D)
                r = {n: x[n] @ m for n in "qkv"}
                for quantized in ("Q", "K", "V", "Q, K, V"):
                    t = {n: e4m3(r[n]) if n.upper() in quantized else r[n] for n in "qkv"}
                    o = attention(t["q"], t["k"], t["v"]) @ m.T
                    rmse.setdefault((std, rotated, quantized), []).append(np.sqrt(((o - truth) ** 2).mean()))
                s = r["q"] @ r["k"].T / np.sqrt(D)
                err = e4m3(r["q"]) @ r["k"].T / np.sqrt(D) - s
                for i in np.nonzero(outlier_rows)[0]:
                    a = err[i] @ s[i] / (s[i] @ s[i])
                    common.setdefault((std, rotated), []).append(1 - ((err[i] - a * s[i]) ** 2).sum() / (err[i] ** 2).sum())
    out = sys.stdout
    out.write("# Why rotation can hurt FP8 attention\n\n")
    out.write("Made by `python3 Scripts/rotation_mechanism.py` (NumPy float64, e4m3fn by ml_dtypes " + ml_dtypes.__version__
              + "; independent of the emulator). Inputs: the FA3 paper's outlier distribution N(0,1) + N(0, std²)·Bernoulli(0.001) "
              + f"for Q, K and V, N = {N}, d = {D}, one head; {len(SEEDS)} input seeds, each with its own rotation seed; one scale "
              + "per tensor (amax/448), round to nearest even, saturating; softmax and products in float64. Rotation: "
              + "M = diag(s)·H/√d (random signs, then the Walsh–Hadamard transform); V rotated too and O rotated back, so every row "
              + "below measures the same attention. Each cell: median [smallest, largest] over the seeds.\n\n")
    out.write("## Which tensor's rounding carries the error\n\nRMSE of the output against float64 attention of the unrounded inputs.\n\n")
    out.write("| outlier std | stored in e4m3 | no rotation | random Hadamard | ratio (median) |\n|---|---|---|---|---|\n")
    for std in STDS:
        for quantized in ("Q", "K", "V", "Q, K, V"):
            a, b = rmse[(std, False, quantized)], rmse[(std, True, quantized)]
            ratio = np.median(np.asarray(b) / np.asarray(a))
            out.write(f"| {std} | {quantized} | {summary(a)} | {summary(b)} | {ratio:.3g} |\n")
    out.write("\n## How the score error is shaped\n\nIn the query rows that hold an outlier: the share of the score error from "
              "rounding Q that is one common factor of the row's scores (the best a in err ≈ a·S), median over those rows and "
              "seeds. Without rotation an outlier sits in one channel, and its one rounding error multiplies that row's outlier "
              "part of every score by the same factor; after rotation the outlier fills all d channels, each rounded on its own, "
              "so the same amount of error lands on every key differently.\n\n")
    out.write("| outlier std | no rotation | random Hadamard | outlier rows |\n|---|---|---|---|\n")
    for std in STDS:
        a, b = common.get((std, False), []), common.get((std, True), [])
        if not a:
            out.write(f"| {std} | — | — | 0 |\n")
            continue
        out.write(f"| {std} | {np.median(a):.2f} | {np.median(b):.2f} | {len(a)} |\n")


if __name__ == "__main__":
    main()
