"""Emulated attention: a scheme's rotation, quantization and precision plan, run by an algorithm."""
from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays, _validate
from ._native import check, lib, make


def inputs(function, q, k, v):
    """q, k, v as float64 arrays (batch, seqlen, heads, head_dim) with their shape dict."""
    qa, ka, va = (_arrays.values(function, name, x) for name, x in (("q", q), ("k", k), ("v", v)))
    for name, a in (("q", qa), ("k", ka), ("v", va)):
        if a.ndim != 4:
            raise ValueError(f"{function}: {name} must be 4-D (batch, seqlen, heads, head_dim), got shape {a.shape}")
    b, sq, h, d = qa.shape
    if ka.shape != va.shape or ka.shape[0] != b or ka.shape[3] != d:
        raise ValueError(f"{function}: shapes do not match: q {qa.shape}, k {ka.shape}, v {va.shape}")
    shape = dict(batch=b, seqlen_q=sq, seqlen_k=ka.shape[1], heads=h, kv_heads=ka.shape[2], head_dim=d, head_dim_v=d)
    return qa, ka, va, shape


def arguments(function, q, k, v, *, scheme, algorithm, causal, window, softmax_scale, seed, precision_bits, threads):
    """The checked fn_attention_args of a call, and Q's float64 array (O's shape)."""
    qa, ka, va, shape = inputs(function, q, k, v)
    left, right = _validate.window(function, window)
    args = make("fn_attention_args", scheme=_validate.text(function, "scheme", scheme),
                algorithm="blocked" if algorithm is None else _validate.text(function, "algorithm", algorithm), shape=shape, q=qa, k=ka, v=va,
                causal=int(_validate.flag(function, "causal", causal)), window_left=left, window_right=right,
                softmax_scale=_validate.softmax_scale(function, softmax_scale), rotation_seed=_validate.seed(function, "seed", seed),
                precision_bits=_validate.integer(function, "precision_bits", precision_bits, 24, 8192),
                threads=_validate.threads(function, threads))
    return args, (qa, ka, va)


def attention(q, k, v, scheme: str = "fp32", algorithm: str | None = "blocked", causal: bool = False,
              window: tuple[int | None, int | None] = (None, None), softmax_scale: float | None = None, seed: int = 0,
              threads: int | None = None):
    """Emulated attention of value inputs (as `flashnum attention`): the scheme's rotation (a random
    one, such as the `-hadamard` schemes' diag(s)·H/√d, drawn from `seed`; other schemes do not
    depend on it), quantization and precision plan, run by `algorithm`
    (naive, blocked, blocked(BRxBC[,reverse]), blocked-fa3, fa3). Returns O as float64 (each a value
    of the scheme's output format). `window` = (left, right) key distances, None for unbounded."""
    args, arrays = arguments("attention", q, k, v, scheme=scheme, algorithm=algorithm, causal=causal, window=window,
                             softmax_scale=softmax_scale, seed=seed, precision_bits=128, threads=threads)
    out = np.empty(arrays[0].shape, dtype=np.float64)
    check(lib.fn_attention(ctypes.byref(args), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
    return _arrays.like(q, out)
