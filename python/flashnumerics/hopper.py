"""Hopper's arithmetic units, bit for bit: tensor-core MMA instructions and MUFU functions."""
from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays, _validate
from ._native import check, lib, make


def mma(instruction: str, a, b, c) -> np.ndarray:
    """One emulated H100 MMA per tile, bit for bit: D[t,i,j] = Σ_k A[t,i,k]·B[t,j,k] + C[t,i,j] with
    A (T,M,K), B (T,N,K) codes (unsigned integers or ml_dtypes arrays), C FP32 bit patterns (uint32,
    or float32 values) (T,M,N). Returns D's FP32 bit patterns (uint32)."""
    function = "mma"
    _validate.text(function, "instruction", instruction)
    ac, bc = _arrays.codes(function, "a", a)[0], _arrays.codes(function, "b", b)[0]
    cc = np.asarray(_arrays.checked(function, "c", c))
    cc = cc.view(np.uint32) if cc.dtype == np.float32 else cc
    for name, x in (("a", ac), ("b", bc), ("c", cc)):
        if x.ndim != 3 or x.dtype.kind != "u":
            raise TypeError(f"{function}: {name} must be 3-D unsigned codes, got dtype {x.dtype}, shape {x.shape}")
    t, m, kk = ac.shape
    if bc.shape[0] != t or bc.shape[2] != kk or cc.shape != (t, m, bc.shape[1]):
        raise ValueError(f"{function}: shapes do not match: A {ac.shape}, B {bc.shape}, C {cc.shape}")
    a32, b32, c32 = (_arrays.uint32_codes(function, name, x) for name, x in (("a", ac), ("b", bc), ("c", cc)))
    d = np.empty(cc.shape, dtype=np.uint32)
    args = make("fn_mma_args", instruction=instruction, tiles=t, m=m, n=bc.shape[1], k=kk, a=a32, b=b32, c=c32)
    check(lib.fn_mma(ctypes.byref(args), d.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32))))
    return d


def mufu(function: str, x) -> np.ndarray:
    """The Hopper MUFU model of `function` on float32 values: ex2, rcp, lg2 (`.approx.ftz.f32`) or
    tanh (`tanh.approx.f32`, softcap's tanh). Other real inputs are rounded to float32 first, as
    NumPy rounds them (beyond its range: ±inf)."""
    _validate.text("mufu", "function", function)
    x = _arrays.checked("mufu", "x", x)
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        xa = np.ascontiguousarray(x)  # bit for bit, NaN payloads included
    else:
        with np.errstate(over="ignore"):
            xa = np.ascontiguousarray(_arrays.values("mufu", "x", x).astype(np.float32))
    out = np.empty(xa.shape, dtype=np.float32)
    f = ctypes.POINTER(ctypes.c_float)
    check(lib.fn_mufu(function.encode(), xa.ctypes.data_as(f), xa.size, out.ctypes.data_as(f)))
    return out
