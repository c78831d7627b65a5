"""Arrays in and out of the C ABI: NumPy arrays (ml_dtypes' types included) and PyTorch tensors.

Every intake checks the element count against the tensor limit on the array's own metadata
(`size`, `numel()`) before any copy, conversion or transfer from a device, so a huge or broadcast
input is refused without growing the process.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from . import _validate

# Formats that NumPy or ml_dtypes has as a dtype (codes are their bit patterns).
DTYPE_NAMES = {"e4m3fn": "float8_e4m3fn", "e5m2": "float8_e5m2", "e4m3fnuz": "float8_e4m3fnuz",
               "e5m2fnuz": "float8_e5m2fnuz", "bf16": "bfloat16", "e8m0": "float8_e8m0fnu"}
# torch dtypes whose elements are a format's codes (those this torch has).
TORCH_ELEMENTS = {"bfloat16": "bf16", "float16": "fp16", "float8_e4m3fn": "e4m3fn", "float8_e5m2": "e5m2",
                  "float8_e4m3fnuz": "e4m3fnuz", "float8_e5m2fnuz": "e5m2fnuz", "float8_e8m0fnu": "e8m0"}


def dtype_of(format_name: str):
    """The NumPy/ml_dtypes dtype whose elements are `format_name`'s codes, or None."""
    if format_name == "fp16":
        return np.dtype(np.float16)
    name = DTYPE_NAMES.get(format_name)
    return np.dtype(getattr(ml_dtypes, name)) if name and hasattr(ml_dtypes, name) else None


def format_of(dtype):
    """The format whose codes `dtype`'s elements are, or None."""
    for f in list(DTYPE_NAMES) + ["fp16"]:
        if dtype_of(f) == dtype:
            return f
    return None


def is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def torch():
    import torch as t
    return t


def checked(function: str, name: str, x):
    """x as a NumPy array view or torch tensor, its size checked first (no copy made)."""
    if is_torch(x):
        _validate.elements(function, name, tuple(x.shape))
        return x
    if isinstance(x, np.ndarray):
        _validate.elements(function, name, x.shape)
        return x
    if isinstance(x, (str, bytes, dict)) or x is None:
        raise TypeError(f"{function}: {name} must be an array or tensor, got {type(x).__name__}")
    a = np.asarray(x)
    _validate.elements(function, name, a.shape)
    return a


def codes(function: str, name: str, x):
    """(C-order NumPy array of bit patterns or plain values, format name or None) of x."""
    x = checked(function, name, x)
    if is_torch(x):
        t = x.detach().cpu().contiguous()
        dname = str(t.dtype).replace("torch.", "")
        if dname in TORCH_ELEMENTS:
            width = torch().int16 if t.element_size() == 2 else torch().uint8
            c = t.view(width).numpy()
            return c.view(np.uint16 if t.element_size() == 2 else np.uint8), TORCH_ELEMENTS[dname]
        if dname == "int16":   # torch's bit patterns of 16-bit codes (like_codes gives them so)
            return t.numpy().view(np.uint16), None
        return t.numpy(), None
    f = format_of(x.dtype)
    if f is not None:
        return np.ascontiguousarray(x).view(np.uint16 if x.dtype.itemsize == 2 else np.uint8), f
    return x, None


def values(function: str, name: str, x) -> np.ndarray:
    """x as a C-order float64 array (values of any real dtype; torch tensors from the CPU)."""
    x = checked(function, name, x)
    if is_torch(x):
        if x.is_complex():
            raise TypeError(f"{function}: {name}: expected numbers, got {x.dtype}")
        x = x.detach().cpu().double().numpy()
    if x.dtype.kind not in "fiu" and format_of(x.dtype) is None:
        raise TypeError(f"{function}: {name}: expected numbers, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=np.float64)


def integers(function: str, name: str, x, shape, lo: int, hi: int, what: str, shape_text: str = "(batch,)") -> np.ndarray:
    """An int32 array of `shape` (`shape_text` names it) from a sequence, NumPy array or torch
    tensor, with every value in lo...hi (`what` says why)."""
    x = checked(function, name, x)
    a = x.detach().cpu().numpy() if is_torch(x) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{function}: {name} must be integers, got {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{function}: {name} must have shape {shape_text} = {tuple(shape)}, got {a.shape}")
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise ValueError(f"{function}: {name} must be in {lo}...{hi} ({what}), got {a.min()}...{a.max()}")
    return np.ascontiguousarray(a, dtype=np.int32)


def float32s(function: str, name: str, x, shape, shape_text: str = "(batch, kv_heads)") -> np.ndarray:
    """A float32 array of `shape` (descales; any float32 value, as the kernel takes them)."""
    x = checked(function, name, x)
    a = x.detach().cpu().float().numpy() if is_torch(x) else np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{function}: {name} must be real numbers, got {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{function}: {name} must be float32 {shape_text} = {tuple(shape)}, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def like(x, a: np.ndarray):
    """`a` as x came in: for torch input a tensor on x's device (float64 values; codes in the
    format's torch dtype where torch has one, see `like_codes`), else the NumPy array."""
    if not is_torch(x):
        return a
    t = torch()
    if a.dtype.kind == "V" or a.dtype.name in ml_dtypes_names():
        return like_codes(x, a.view(np.uint8 if a.dtype.itemsize == 1 else np.uint16), format_of(a.dtype))
    return t.from_numpy(np.ascontiguousarray(a)).to(x.device)


def ml_dtypes_names():
    return {np.dtype(getattr(ml_dtypes, n)).name for n in DTYPE_NAMES.values() if hasattr(ml_dtypes, n)}


def like_codes(x, codes: np.ndarray, format_name: str | None):
    """Codes `codes` (uint8/uint16) of `format_name` as a tensor on x's device: the format's torch
    dtype when torch has one (bfloat16, float16, float8_*), else uint8/int16 bit patterns."""
    t = torch()
    raw = t.from_numpy(np.ascontiguousarray(codes).view(np.uint8 if codes.dtype.itemsize == 1 else np.int16))
    for name, f in TORCH_ELEMENTS.items():
        if f == format_name and hasattr(t, name) and getattr(t, name).itemsize == codes.dtype.itemsize:
            raw = raw.view(getattr(t, name))
            break
    return raw.to(x.device)


def uint32_codes(function: str, name: str, c: np.ndarray) -> np.ndarray:
    """Unsigned codes as C-order uint32, refusing any too wide for 32 bits (never wrapped)."""
    if c.dtype.kind != "u":
        raise TypeError(f"{function}: {name} must be unsigned integer codes, got dtype {c.dtype}")
    if c.dtype.itemsize > 4 and c.size and int(c.max()) > 0xFFFF_FFFF:
        raise ValueError(f"{function}: {name} holds a code of {int(c.max())}, wider than 32 bits")
    return np.ascontiguousarray(c, dtype=np.uint32)
