"""Measuring error: the certified MPFR reference, error metrics, per-stage attribution, and the
FlashAttention-3 paper's Table 3."""
from __future__ import annotations

import ctypes
import json

import numpy as np

from . import _arrays, _validate
from ._native import check, lib, make, take_string
from .emulation import arguments


def reference(q, k, v, precision_bits: int = 128, causal: bool = False, window: tuple[int | None, int | None] = (None, None),
              softmax_scale: float | None = None, threads: int | None = None, mask=None,
              alignment: str = "bottom-right") -> tuple[object, int]:
    """The MPFR reference of the exact input values at `precision_bits` (24...8192) with its
    rigorous error bound: returns (O as the nearest float64s, certified_bits), where every output
    has at least certified_bits correct leading bits (≥ 53: within about an ulp of float64).
    `mask` and `alignment` as in `attention`; the reference takes boolean masks only (an additive
    mask of 0 / -inf values is one)."""
    args, arrays = arguments("reference", q, k, v, scheme="fp64", algorithm="naive", causal=causal, window=window,
                             softmax_scale=softmax_scale, seed=0, precision_bits=precision_bits, threads=threads,
                             mask=mask, alignment=alignment)
    out = np.empty(arrays[0].shape, dtype=np.float64)
    bits = ctypes.c_int32(0)
    check(lib.fn_reference(ctypes.byref(args), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), ctypes.byref(bits)))
    return _arrays.like(q, out), bits.value


def _numbers(entry):
    return {key: float(value) if isinstance(value, str) and key != "stage" else value for key, value in entry.items()}


def metrics(out, ref, format: str | None = None) -> dict:
    """Error metrics of `out` against `ref` (same shape) as a dict: count, rmse, relative_frobenius,
    max_abs, cosine, sqnr_db (dB), and with `format` (the output's format name, e.g. bf16, or fp32)
    max_ulp and mean_ulp in units in the last place of that format."""
    function = "metrics"
    o, r = _arrays.values(function, "out", out), _arrays.values(function, "ref", ref)
    if o.shape != r.shape:
        raise ValueError(f"{function}: out {o.shape} and ref {r.shape} differ in shape")
    name = _validate.text(function, "format", format, optional=True)
    d = ctypes.POINTER(ctypes.c_double)
    result = json.loads(take_string(lib.fn_metrics_json(o.size, o.ctypes.data_as(d), r.ctypes.data_as(d),
                                                        None if name is None else name.encode())))
    return _numbers(result)


def attribute(q, k, v, scheme: str, algorithm: str | None = "blocked", causal: bool = False,
              window: tuple[int | None, int | None] = (None, None), softmax_scale: float | None = None, seed: int = 0,
              precision_bits: int = 128, threads: int | None = None) -> dict:
    """Where a scheme's error comes from (as `flashnum attention --attribute`): a dict with the
    metrics of its output against the MPFR reference at `precision_bits`, and `attribution`, one
    dict per rounding stage of its plan (stage, rmse_with_stage_exact, contribution)."""
    args, _ = arguments("attribute", q, k, v, scheme=scheme, algorithm=algorithm, causal=causal, window=window,
                        softmax_scale=softmax_scale, seed=seed, precision_bits=precision_bits, threads=threads)
    result = json.loads(take_string(lib.fn_attribute_json(ctypes.byref(args))))
    return {"metrics": _numbers(result["metrics"]), "attribution": [_numbers(e) for e in result["attribution"]]}


def table_paper_rmse(seq_len: int = 1024, head_dim: int = 128, batch: int = 1, heads: int = 2, seed: int = 0,
                     reference_bits: int | str | None = "double-word", threads: int | None = None) -> list[dict]:
    """The FlashAttention-3 paper's Table 3 on the emulator for one input seed and one rotation
    seed, both `seed` (as `flashnum table paper-rmse --seeds S --rotation-seeds S --json`): one dict per
    method, in table order, with `method`, `scheme`, `precision`, `algorithm`,
    `block_quantization`, `incoherent_processing`, the metrics against the reference
    (`rmse`, `max_abs`, ... in output units; None where not finite), `paper_rmse`, `samples`
    and `reference_certified_bits`. The reference is the certified double-word one by default
    (`reference_bits="double-word"`), MPFR at `reference_bits` bits (24...8192) when it is an
    integer, or the FP64 pipeline (uncertified) when it is None."""
    function = "table_paper_rmse"
    if isinstance(reference_bits, str):
        if reference_bits != "double-word":
            raise ValueError(f"{function}: reference_bits must be 'double-word', None or in 24...8192, got {_validate.shown(reference_bits)}")
        bits = -1
    else:
        bits = 0 if reference_bits is None else _validate.integer(function, "reference_bits", reference_bits, 24, 8192)
    size = lambda name, value: _validate.size(function, name, value)
    args = make("fn_table_args", batch=size("batch", batch), seq_len=size("seq_len", seq_len), heads=size("heads", heads),
                head_dim=size("head_dim", head_dim), seed=_validate.seed(function, "seed", seed), reference_bits=bits,
                threads=_validate.threads(function, threads))
    return json.loads(take_string(lib.fn_table_paper_rmse_json(ctypes.byref(args))))


def table_fa3(*args, **kwargs):
    """Renamed: `table_paper_rmse` ('fa3' names the FA3 kernel only). Raises AttributeError
    naming the new name, whatever the arguments."""
    raise AttributeError("flashnumerics.table_fa3 is now flashnumerics.table_paper_rmse ('fa3' names the FA3 kernel only)")
