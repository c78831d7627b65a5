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


ALIGNMENTS = ("bottom-right", "top-left")


def bias(function, mask, shape):
    """The C ABI's bias fields for `mask` (None; a boolean array, True = attend; or additive
    float values) broadcast to (batch, heads, seqlen_q, seqlen_k), and the float64 array they
    point into (keep it alive for the call). Broadcast axes get stride 0: nothing is expanded."""
    none = dict(bias=None, bias_count=0, bias_stride_batch=0, bias_stride_head=0, bias_stride_query=0, bias_stride_key=0)
    if mask is None:
        return none, None
    m = _arrays.checked(function, "mask", mask)
    if _arrays.is_torch(m):
        m = m.detach().cpu()
        if str(m.dtype) != "torch.bool" and not m.is_floating_point():
            raise TypeError(f"{function}: mask must be boolean (True attends) or floating point (added to the scores), got {m.dtype}")
        m = m.numpy() if str(m.dtype) == "torch.bool" else m.double().numpy()
    if m.dtype == np.bool_:
        values = np.where(m, 0.0, -np.inf)
    elif m.dtype.kind == "f" or _arrays.format_of(m.dtype) is not None:
        values = np.asarray(m, dtype=np.float64)
        if np.isnan(values).any() or (values == np.inf).any():
            raise ValueError(f"{function}: mask holds NaN or +inf; an additive mask takes finite values or -inf")
    else:
        raise TypeError(f"{function}: mask must be boolean (True attends) or floating point (added to the scores), got dtype {m.dtype}")
    full = (shape["batch"], shape["heads"], shape["seqlen_q"], shape["seqlen_k"])
    if values.ndim > 4:
        raise ValueError(f"{function}: mask has {values.ndim} dimensions; it must broadcast to (batch, heads, seqlen_q, seqlen_k) = {full}")
    values = np.ascontiguousarray(values)
    try:
        view = np.broadcast_to(values, full)
    except ValueError:
        raise ValueError(f"{function}: mask of shape {values.shape} does not broadcast to (batch, heads, seqlen_q, seqlen_k) = {full}") from None
    strides = [s // 8 for s in view.strides]
    return dict(bias=values.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), bias_count=values.size, bias_stride_batch=strides[0],
                bias_stride_head=strides[1], bias_stride_query=strides[2], bias_stride_key=strides[3]), values


def arguments(function, q, k, v, *, scheme, algorithm, causal, window, softmax_scale, seed, precision_bits, threads,
              mask=None, alignment="bottom-right"):
    """The checked fn_attention_args of a call, Q's float64 array (O's shape), and what the
    struct points into (keep the tuple alive for the call)."""
    qa, ka, va, shape = inputs(function, q, k, v)
    left, right = _validate.window(function, window)
    if alignment not in ALIGNMENTS:
        raise ValueError(f"{function}: alignment must be one of {', '.join(ALIGNMENTS)}, got {_validate.shown(alignment)}")
    fields, keep = bias(function, mask, shape)
    args = make("fn_attention_args", scheme=_validate.text(function, "scheme", scheme),
                algorithm="blocked" if algorithm is None else _validate.text(function, "algorithm", algorithm), shape=shape, q=qa, k=ka, v=va,
                causal=int(_validate.flag(function, "causal", causal)), window_left=left, window_right=right,
                top_left=int(alignment == "top-left"), **fields,
                softmax_scale=_validate.softmax_scale(function, softmax_scale), rotation_seed=_validate.seed(function, "seed", seed),
                precision_bits=_validate.integer(function, "precision_bits", precision_bits, 24, 8192),
                threads=_validate.threads(function, threads))
    return args, (qa, ka, va, keep)


def attention(q, k, v, scheme: str = "fp32", algorithm: str | None = "blocked", causal: bool = False,
              window: tuple[int | None, int | None] = (None, None), softmax_scale: float | None = None, seed: int = 0,
              threads: int | None = None, mask=None, alignment: str = "bottom-right"):
    """Emulated attention of value inputs (as `flashnum attention`): the scheme's rotation (a random
    one, such as the `-hadamard` schemes' diag(s)·H/√d, drawn from `seed`; other schemes do not
    depend on it), quantization and precision plan, run by `algorithm`
    (naive, blocked, blocked(BRxBC[,reverse]), blocked-hopper-tiles, fa3). Returns O as float64 (each a value
    of the scheme's output format). `window` = (left, right) key distances, None for unbounded;
    `alignment` places the causal mask and window: "bottom-right" (FlashAttention) or "top-left"
    (PyTorch's is_causal). `mask`: None, a boolean array (True attends) or additive float values,
    broadcast to (batch, heads, seqlen_q, seqlen_k); with a mask the scores are scaled first,
    then the mask added, in the softmax arithmetic."""
    args, arrays = arguments("attention", q, k, v, scheme=scheme, algorithm=algorithm, causal=causal, window=window,
                             softmax_scale=softmax_scale, seed=seed, precision_bits=128, threads=threads, mask=mask,
                             alignment=alignment)
    out = np.empty(arrays[0].shape, dtype=np.float64)
    check(lib.fn_attention(ctypes.byref(args), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
    return _arrays.like(q, out)
