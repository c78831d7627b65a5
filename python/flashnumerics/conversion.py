"""Emulated number formats: the formats table, rounding values to a format, decoding codes."""
from __future__ import annotations

import ctypes
import json

import numpy as np

from . import _arrays, _validate
from ._native import check, lib, make, take_string

_FORMATS: dict | None = None
_ROUNDINGS = ("nearest-even", "nearest-away", "toward-zero", "up", "down", "odd", "stochastic")


def formats() -> list[dict]:
    """The named formats: a list of dicts (name, ml_dtypes — the ml_dtypes dtype's name, also
    accepted as the format's name, or None —, bits, exponent_bits, fraction_bits, bias, signed,
    subnormals, infinity, nan, max_finite, min_normal)."""
    return json.loads(take_string(lib.fn_formats_json()))


def resolve(function: str, format) -> tuple[str, int]:
    """`format` (a name or an ml_dtypes name such as "float8_e4m3fn") as (its name, its code
    width); ValueError naming the formats for an unknown one."""
    global _FORMATS
    if _FORMATS is None:
        table = formats()
        _FORMATS = {f["name"]: (f["name"], f["bits"]) for f in table}
        _FORMATS.update({f["ml_dtypes"]: (f["name"], f["bits"]) for f in table if f["ml_dtypes"]})
    _validate.text(function, "format", format)
    if format not in _FORMATS:
        known = sorted({name for name, _ in _FORMATS.values()})
        raise ValueError(f"{function}: unknown format {_validate.shown(format)} (known: {', '.join(known)}, or their ml_dtypes names)")
    return _FORMATS[format]


def convert(x, format: str, rounding: str = "nearest-even", overflow: str | None = None, seed: int | None = None,
            random_bits: int | None = None, threads: int | None = None, codes: bool = False) -> np.ndarray:
    """Rounds values to `format` once (exactly, from their float64 values). Returns an array of the
    format's ml_dtypes/NumPy dtype when one exists (else, or with codes=True, uint8/uint16 codes);
    for a torch tensor, a tensor on its device: the format's torch dtype (bfloat16, float16,
    float8_*) where torch has it, else uint8 or int16 bit patterns.
    `overflow`: nan, infinity, saturate, or None for the format's own; stochastic rounding needs
    `seed` and `random_bits` (1...32) and uses random word i for element i."""
    function = "convert"
    format, width = resolve(function, format)
    rounding = "nearest-even" if rounding is None else _validate.text(function, "rounding", rounding)
    _validate.text(function, "overflow", overflow, optional=True)
    codes = _validate.flag(function, "codes", codes)
    stochastic = rounding == "stochastic"
    if stochastic != (seed is not None and random_bits is not None) or (not stochastic and (seed is not None or random_bits is not None)):
        raise ValueError(f"{function}: rounding 'stochastic' needs seed and random_bits, which apply to it only")
    seed_value = _validate.seed(function, "seed", seed) if stochastic else 0
    random = _validate.integer(function, "random_bits", random_bits, 1, 32) if stochastic else 0
    n_threads = _validate.threads(function, threads)
    x = _arrays.checked(function, "x", x)
    if _arrays.is_torch(x):
        float32 = x.dtype == _arrays.torch().float32
        source = x.detach().cpu().contiguous().numpy() if float32 else None
    else:
        float32, source = x.dtype == np.float32, x
    if float32:
        # float32 values straight into codes of the format's width (the vectorized kernels).
        values = np.ascontiguousarray(source)
        if width > 16:
            raise ValueError(f"{function}: format {format} is wider than 16 bits; give float64 values")
        out = np.empty(values.shape, dtype=np.uint8 if width <= 8 else np.uint16)
        value_bits, code_bits = 32, 8 if width <= 8 else 16
    else:
        values = _arrays.values(function, "x", x)
        out = np.empty(values.shape, dtype=np.uint32)
        value_bits, code_bits = 64, 32
    args = make("fn_encode_args", format=format, rounding=rounding, overflow=overflow, seed=seed_value, random_bits=random,
                value_bits=value_bits, values=values, count=values.size, code_bits=code_bits, threads=n_threads)
    check(lib.fn_encode(ctypes.byref(args), out.ctypes.data))
    narrow = out if code_bits != 32 else out.astype(np.uint8 if width <= 8 else np.uint16)
    if _arrays.is_torch(x):
        return _arrays.like_codes(x, narrow, None if codes else format)
    dtype = _arrays.dtype_of(format)
    return narrow if codes or dtype is None or dtype.itemsize != narrow.itemsize else narrow.view(dtype)


def decode(x, format: str | None = None) -> np.ndarray:
    """The exact values (float64) of codes: an ml_dtypes/float16 array or a bfloat16/float16/float8
    torch tensor (format from its dtype), or unsigned integer codes with `format`. A torch input
    gives a float64 tensor on its device."""
    function = "decode"
    c, f = _arrays.codes(function, "x", x)
    if format is not None:
        f = resolve(function, format)[0]
    if f is None:
        raise TypeError(f"{function}: give `format` for integer codes")
    if c.dtype.kind != "u":
        raise TypeError(f"{function}: expected codes (unsigned integers or an ml_dtypes array), got dtype {c.dtype}")
    c32 = _arrays.uint32_codes(function, "x", c)
    out = np.empty(c32.shape, dtype=np.float64)
    check(lib.fn_decode(f.encode(), c32.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), c32.size,
                        out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
    return _arrays.like(x, out)
