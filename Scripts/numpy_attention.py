#!/usr/bin/env python3
"""Emulated FP8 attention in NumPy + ml_dtypes (fake quantization in FP32): a speed peer for
`flashnum bench attention`.

The same computation as the scheme fa3-fp8-per-head on FA3's tiles, written as a NumPy user
would: Q, K, V quantized to e4m3fn with one FP32 scale per head (amax / 448, ml_dtypes cast,
saturating), dequantized to float32; FlashAttention's online softmax over key blocks of BLOCK
columns in reverse order, in float32 (exp2 with the scale folded in); P times 2^8 cast to
e4m3fn and back; P·V and the row sums in float32 (NumPy matmul: BLAS order, so not the
emulator's bits); O = acc / l, cast to bfloat16. Inputs: float64 .npy (batch, seqlen, heads,
headdim); batch 0, head 0 is computed.

usage: numpy_attention.py Q.npy K.npy V.npy [--block 224] [--repeats 3] [--out O.npy]
prints one JSON line: {"seconds": median, "runs": [...], "numpy": ..., "ml_dtypes": ...}
"""
import argparse, json, time

import ml_dtypes
import numpy as np

E4M3 = ml_dtypes.float8_e4m3fn
BF16 = ml_dtypes.bfloat16


def quantize(x):
    amax = float(np.abs(x).max())
    scale = np.float32(amax / 448.0) if amax > 0 else np.float32(1)
    codes = np.clip(x / scale, -448, 448).astype(E4M3)   # saturating cast, round to nearest even
    return codes.astype(np.float32) * scale


def attention(q, k, v, block):
    n, d = k.shape
    sl2 = np.float32(np.log2(np.e) / np.sqrt(d))
    m = np.full(q.shape[0], -np.inf, dtype=np.float32)
    l = np.zeros(q.shape[0], dtype=np.float32)
    acc = np.zeros((q.shape[0], d), dtype=np.float32)
    starts = list(range(0, n, block))[::-1]
    for s in starts:
        kb, vb = k[s:s + block], v[s:s + block]
        scores = q @ kb.T
        m_new = np.maximum(m, scores.max(axis=1))
        alpha = np.exp2((m - m_new) * sl2).astype(np.float32)
        p = np.exp2(scores * sl2 - (m_new * sl2)[:, None]).astype(np.float32)
        l = alpha * l + p.sum(axis=1, dtype=np.float32)
        p8 = (p * np.float32(256)).astype(E4M3).astype(np.float32)
        acc = acc * alpha[:, None] + (p8 @ vb) / np.float32(256)
        m = m_new
    return (acc / l[:, None]).astype(BF16)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("q"); a.add_argument("k"); a.add_argument("v")
    a.add_argument("--block", type=int, default=224)
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--out")
    args = a.parse_args()
    q, k, v = (np.load(f)[0, :, 0, :].astype(np.float32) for f in (args.q, args.k, args.v))
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        o = attention(quantize(q), quantize(k), quantize(v), args.block)
        runs.append(time.perf_counter() - start)
    if args.out:
        np.save(args.out, o.astype(np.float32))
    print(json.dumps({"seconds": float(np.median(runs)), "runs": runs, "numpy": np.__version__,
                      "ml_dtypes": ml_dtypes.__version__}))


if __name__ == "__main__":
    main()
