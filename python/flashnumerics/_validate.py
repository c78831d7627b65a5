"""The one validation layer of the Python API: every argument is checked here as the command
line checks it, before anything is copied or allocated. Wrong types raise TypeError, wrong values
ValueError, each naming the function and the parameter."""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

from . import _native

FLOAT32_MAX = float(np.finfo(np.float32).max)


def shown(value) -> str:
    """`value` for a one-line message: its repr on one line, at most 60 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def integer(function: str, name: str, value, lo: int, hi: int, why: str = "") -> int:
    """An integer (Python or NumPy, not bool) in lo...hi, never wrapped or truncated; `why`
    names the bound in the message (e.g. "the tensor limit")."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{function}: {name} must be an integer, got {type(value).__name__} {shown(value)}")
    v = int(value)
    if not lo <= v <= hi:
        bound = "2^64-1" if hi == (1 << 64) - 1 else str(hi)
        raise ValueError(f"{function}: {name} must be in {lo}...{bound}{f' ({why})' if why else ''}, got {v}")
    return v


def seed(function: str, name: str, value) -> int:
    """A seed: an integer in 0...2^64 − 1."""
    return integer(function, name, value, 0, (1 << 64) - 1)


def size(function: str, name: str, value, lo: int = 1) -> int:
    """A size (a dimension or length): an integer in lo...the tensor limit."""
    return integer(function, name, value, lo, limits()["tensor_elements"], "the tensor limit, FLASHNUM_MAX_TENSOR_ELEMENTS")


def real(function: str, name: str, value, *, lo: float | None = None, hi: float | None = None, float32: bool = False) -> float:
    """A finite real number (Python or NumPy numbers, 0-d arrays, anything numbers.Real; not
    str, bytes, bool or complex), within [lo, hi] when given, and finite in float32 too when
    `float32`."""
    zero_d = getattr(value, "ndim", None) == 0 and getattr(getattr(value, "dtype", None), "kind", "x") in "fiu"
    if (isinstance(value, (str, bytes, bool, np.bool_, complex)) or
            not (isinstance(value, (numbers.Real, np.floating, np.integer)) or zero_d)):
        raise TypeError(f"{function}: {name} must be a number, got {type(value).__name__} {shown(value)}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{function}: {name} must be finite, got {shown(value)}") from None
    if not math.isfinite(v):
        raise ValueError(f"{function}: {name} must be finite, got {v}")
    if float32 and abs(v) > FLOAT32_MAX:
        raise ValueError(f"{function}: {name} must be finite in float32 (at most {FLOAT32_MAX:.9g}), got {v}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{function}: {name} must be in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}], got {v}")
    return v


def flag(function: str, name: str, value) -> bool:
    """A boolean: bool, NumPy bool, or the integers 0 and 1."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    raise TypeError(f"{function}: {name} must be a bool, got {type(value).__name__} {shown(value)}")


def text(function: str, name: str, value, *, optional: bool = False) -> str | None:
    """A name (str without NUL), or None when `optional`."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{function}: {name} must be a string, got {type(value).__name__} {shown(value)}")
    if "\0" in value:
        raise ValueError(f"{function}: {name} must not contain NUL, got {shown(value)}")
    return value


def softmax_scale(function: str, value) -> float:
    """None → 0.0 (the library's default 1/√d); else a finite scale > 0 as float32 allows."""
    if value is None:
        return 0.0
    v = real(function, "softmax_scale", value, float32=True)
    if not v > 0:
        raise ValueError(f"{function}: softmax_scale must be > 0 (None: 1/sqrt(head_dim)), got {v}")
    return v


def softcap(function: str, value) -> float:
    """A softcap ≥ 0 (0: off), finite as float32 (the kernel stores it so)."""
    return real(function, "softcap", value, lo=0.0, float32=True)


def threads(function: str, value) -> int:
    """Worker threads: None → all cores; else 1...4096 (results never depend on it)."""
    return integer(function, "threads", (os.cpu_count() or 1) if value is None else value, 1, 4096)


def window(function: str, value) -> tuple[int, int]:
    """A (left, right) window of key distances, each None (unbounded) or an integer ≥ 0 within
    int64; returned as the C ABI's pair (-1 for unbounded)."""
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise TypeError(f"{function}: window must be a pair (left, right), got {shown(value)}")
    return tuple(-1 if side is None else integer(function, f"window[{i}]", side, 0, (1 << 63) - 1) for i, side in enumerate(value))


def limits() -> dict:
    """The limits in force (one parser for the library and the command line: a malformed
    FLASHNUM_MAX_* is a ValueError with the command line's message)."""
    return _native.limits()


def elements(function: str, name: str, shape) -> int:
    """The element count of `shape`, refused (ValueError) above the tensor limit: called before
    any copy, so an oversized input never grows the process."""
    count = 1
    for n in shape:
        count *= int(n)
    limit = limits()["tensor_elements"]
    if count > limit:
        raise ValueError(f"{function}: {name} holds {count} elements, more than the limit of {limit} per tensor (FLASHNUM_MAX_TENSOR_ELEMENTS)")
    return count
