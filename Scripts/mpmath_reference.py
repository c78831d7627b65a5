#!/usr/bin/env python3
"""The MPFR reference attention written with mpmath: a peer for `flashnum bench attention`.

Same algorithm as `Reference.ReferenceAttention` (softmax shifted by the row max, each output
O_c = (sum_j e_j v_jc) / (sum_j e_j)): scores are exact dot products (mpmath.fdot on float
inputs at a working precision of PREC bits: mpf products of doubles are exact, fdot sums once),
e_j = exp((S_j - m) * scale) at PREC bits, numerators and the row sum by fdot at PREC bits, one
division. Inputs: Q, K, V float64 .npy (batch, seqlen, heads, headdim), not causal, scale 1/sqrt(d).

Rows are independent and cost the same, so the benchmark times ROWS query rows (of head 0,
batch 0) and reports seconds per row; the full-problem time is that times the number of rows.

usage: mpmath_reference.py Q.npy K.npy V.npy --prec 64 --rows 4 [--out O.npy]
prints one JSON line: {"rows": R, "seconds": T, "seconds_per_row": T/R, "prec": P}
"""
import argparse, json, sys, time

import numpy as np
import mpmath
from mpmath import mp


def row(q, k, v, i, scale):
    n, d = k.shape[0], k.shape[1]
    qi = [mp.mpf(float(x)) for x in q[i]]
    scores = [mp.fdot(qi, [mp.mpf(float(x)) for x in k[j]]) for j in range(n)]
    m = max(scores)
    e = [mp.exp((s - m) * scale) for s in scores]
    l = mp.fsum(e)
    return [mp.fdot(e, [mp.mpf(float(v[j, c])) for j in range(n)]) / l for c in range(d)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("q"); p.add_argument("k"); p.add_argument("v")
    p.add_argument("--prec", type=int, default=64)
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--out")
    a = p.parse_args()
    q, k, v = (np.load(f).astype(np.float64) for f in (a.q, a.k, a.v))
    if q.ndim != 4 or k.shape != v.shape or q.shape[3] != k.shape[3]:
        sys.exit("mpmath_reference: Q, K, V must be (batch, seqlen, heads, headdim) with equal head dims")
    mp.prec = a.prec
    q0, k0, v0 = q[0, :, 0, :], k[0, :, 0, :], v[0, :, 0, :]
    scale = 1 / mp.sqrt(q.shape[3])
    rows = min(a.rows, q0.shape[0])
    start = time.perf_counter()
    out = [row(q0, k0, v0, i, scale) for i in range(rows)]
    seconds = time.perf_counter() - start
    if a.out:
        np.save(a.out, np.array([[float(x) for x in r] for r in out]))
    print(json.dumps({"rows": rows, "seconds": seconds, "seconds_per_row": seconds / rows, "prec": a.prec,
                      "mpmath": mpmath.__version__, "backend": mpmath.libmp.BACKEND}))


if __name__ == "__main__":
    main()
