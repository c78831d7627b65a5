"""FlashNumerics from Python: emulated low-precision formats, the FlashAttention-3 forward kernel
bit for bit on the CPU, emulated attention schemes, the certified MPFR reference, error metrics.

Arrays are NumPy arrays (ml_dtypes' bfloat16/float8 types included) or PyTorch tensors (read
from their CPU copy); results come back as the same kind. Computation runs in the bundled
Swift library with the GIL released; `threads` (default: all cores) never changes a result.
Bad input raises ValueError or TypeError with the command line's one-line message.
"""
import json
import os

import ml_dtypes
import numpy as np

from . import _native
from ._native import check, lib, take_string

__all__ = ["__version__", "formats", "convert", "decode", "flash_attn_func", "flash_attn_with_kvcache",
           "flash_attn_varlen_func", "attention", "reference", "metrics",
           "attribute", "table_fa3", "mma", "mufu", "fa3_case_inputs"]

__version__ = lib.fn_version().decode()

# Formats that NumPy or ml_dtypes has as a dtype (codes are their bit patterns).
_DTYPE_NAMES = {"e4m3fn": "float8_e4m3fn", "e5m2": "float8_e5m2", "e4m3fnuz": "float8_e4m3fnuz",
                "e5m2fnuz": "float8_e5m2fnuz", "bf16": "bfloat16", "e8m0": "float8_e8m0fnu"}


def _dtype_of(format_name):
    if format_name == "fp16":
        return np.dtype(np.float16)
    name = _DTYPE_NAMES.get(format_name)
    return np.dtype(getattr(ml_dtypes, name)) if name and hasattr(ml_dtypes, name) else None


def _format_of(dtype):
    """The format whose codes `dtype`'s elements are, or None."""
    for f in list(_DTYPE_NAMES) + ["fp16"]:
        if _dtype_of(f) == dtype:
            return f
    return None


def _is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


def _torch():
    import torch
    return torch


_TORCH_ELEMENTS = {"bfloat16": "bf16", "float16": "fp16", "float8_e4m3fn": "e4m3fn"}


def _codes_numpy(x):
    """A NumPy array with the bit patterns of x (a torch tensor or a NumPy/ml_dtypes array)."""
    if _is_torch(x):
        torch = _torch()
        t = x.detach().cpu().contiguous()
        name = str(t.dtype).replace("torch.", "")
        if name in _TORCH_ELEMENTS:
            width = torch.int16 if t.element_size() == 2 else torch.uint8
            codes = t.view(width).numpy()
            return codes.view(np.uint16 if t.element_size() == 2 else np.uint8), _TORCH_ELEMENTS[name]
        return t.numpy(), None
    a = np.asarray(x)
    f = _format_of(a.dtype)
    if f is not None:
        return np.ascontiguousarray(a).view(np.uint16 if a.dtype.itemsize == 2 else np.uint8), f
    return a, None


def _values(x, name):
    """x as a C-order float64 array (values of any float dtype, torch tensors from the CPU)."""
    if _is_torch(x):
        x = x.detach().cpu().double().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "fiu" and _format_of(a.dtype) is None:
        raise TypeError(f"{name}: expected numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def _threads(threads):
    t = (os.cpu_count() or 1) if threads is None else threads
    if not isinstance(t, (int, np.integer)) or not 1 <= t <= 4096:
        raise ValueError(f"threads must be in 1...4096, got {threads}")
    return int(t)


def _seed(seed, name="seed"):
    """A seed as the C ABI takes it: an integer in 0...2^64 − 1 (never wrapped or truncated)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in 0...2^64-1, got {type(seed).__name__}")
    if not 0 <= int(seed) < 1 << 64:
        raise ValueError(f"{name} must be in 0...2^64-1, got {seed}")
    return int(seed)


def _bytes(s):
    return None if s is None else str(s).encode()


def _ptr(a, ctype):
    return a.ctypes.data_as(_native._c.POINTER(ctype))


def _scale(softmax_scale):
    return float("nan") if softmax_scale is None else float(softmax_scale)


_FORMATS = None


def _bits(format):
    """The width of `format`'s codes (ValueError naming the formats for an unknown one)."""
    global _FORMATS
    _FORMATS = _FORMATS or {f["name"]: f["bits"] for f in formats()}
    if format not in _FORMATS:
        raise ValueError(f"unknown format '{format}' (known: {', '.join(_FORMATS)})")
    return _FORMATS[format]


def formats():
    """The named formats: a list of dicts (name, bits, exponent_bits, fraction_bits, bias, signed,
    subnormals, infinity, nan, max_finite, min_normal)."""
    return json.loads(take_string(lib.fn_formats_json()))


def convert(x, format, rounding="nearest-even", overflow=None, seed=None, random_bits=None, threads=None, codes=False):
    """Rounds values to `format` once (exactly, from their float64 values). Returns an array of the
    format's ml_dtypes/NumPy dtype when one exists (else, or with codes=True, uint8/uint16 codes).
    `overflow`: nan, infinity, saturate, or None for the format's own; stochastic rounding needs
    `seed` and `random_bits` (1...32) and uses random word i for element i."""
    if (rounding == "stochastic") != (seed is not None and random_bits is not None) or (rounding != "stochastic" and (seed is not None or random_bits is not None)):
        raise ValueError("rounding 'stochastic' needs seed and random_bits, which apply to it only")
    args = (_bytes(format), _bytes(rounding), _bytes(overflow), _seed(seed) if seed is not None else 0, int(random_bits or 0))
    source = x.detach().cpu().numpy() if _is_torch(x) else np.asarray(x)
    if source.dtype == np.float32:
        # float32 values straight into codes of the format's width (the vectorized kernels).
        values = np.ascontiguousarray(source)
        bits = _bits(format)
        narrow = np.empty(values.shape, dtype=np.uint8 if bits <= 8 else np.uint16)
        check(lib.fn_encode_f32(*args, _ptr(values, _native._c.c_float), values.size, narrow.ctypes.data, _threads(threads)))
    else:
        values = _values(x, "x")
        out = np.empty(values.shape, dtype=np.uint32)
        check(lib.fn_encode(*args, _ptr(values, _native._c.c_double), values.size, _ptr(out, _native._c.c_uint32), _threads(threads)))
        narrow = out.astype(np.uint8 if _bits(format) <= 8 else np.uint16)
    dtype = _dtype_of(format)
    return narrow if codes or dtype is None or dtype.itemsize != narrow.itemsize else narrow.view(dtype)


def decode(x, format=None):
    """The exact values (float64) of codes: an ml_dtypes/float16 array (format from its dtype) or
    unsigned integer codes with `format`."""
    codes, f = _codes_numpy(x)
    f = format or f
    if f is None:
        raise TypeError("decode: give `format` for integer codes")
    if codes.dtype.kind != "u":
        raise TypeError(f"decode: expected codes (unsigned integers or an ml_dtypes array), got dtype {codes.dtype}")
    c = np.ascontiguousarray(codes, dtype=np.uint32)
    out = np.empty(c.shape, dtype=np.float64)
    check(lib.fn_decode(_bytes(f), _ptr(c, _native._c.c_uint32), c.size, _ptr(out, _native._c.c_double)))
    return out


HOPPER_SM_COUNT = 132
"""SMs of an H100 SXM or H200: the default `num_sms` of the kernel twins (the real kernel reads
its device's count, less `sm_margin`, for its split heuristics)."""


def flash_attn_func(q, k, v, softmax_scale=None, causal=False, qv=None, q_descale=None, k_descale=None, v_descale=None,
                    window_size=(-1, -1), attention_chunk=0, softcap=0.0, num_splits=1, pack_gqa=None, deterministic=False,
                    sm_margin=0, return_attn_probs=False, *, num_sms=HOPPER_SM_COUNT, schedule=None, threads=None):
    """The FlashAttention-3 forward kernel (`fa3_fwd_interface.flash_attn_func`), bit for bit, on the CPU.

    q (batch, seqlen_q, heads, d), k (batch, seqlen_k, kv_heads, d) and v (batch, seqlen_k, kv_heads,
    dv; dv = d, or the kernel's unequal pairs such as 192/128), all bfloat16, float16
    or float8_e4m3fn (torch tensors, or NumPy arrays of ml_dtypes' types); FP8 descales float32
    (batch, kv_heads). Returns `out` (bf16; fp16 for fp16 inputs), or `(out, lse)` with
    `return_attn_probs=True` (lse float32 (batch, heads, seqlen_q), natural log) — torch tensors on
    q's device when torch came in. `num_splits` > 1 splits the keys among that many CTAs and
    merges them with the combine kernel; 0 lets the kernel's heuristic choose for a GPU of
    `num_sms` − `sm_margin` SMs. `softcap` > 0 caps the scores as softcap·tanh(score·scale/softcap)
    with the GPU's tanh.approx. `pack_gqa` and `deterministic` do not change the kernel's
    numbers; `qv`, windows and `attention_chunk` are not emulated yet (ValueError).
    `schedule` (keyword only; default the kernel's) changes the emulated schedule for what-ifs: a dict
    of `flashnum attention --fa3-set` parameters, e.g. {"rescaleThreshold": 4, "fp8ProbabilityFormat": "e5m2"}."""
    if qv is not None or tuple(window_size) != (-1, -1) or attention_chunk != 0:
        raise ValueError("flash_attn_func: qv, window_size and attention_chunk are not emulated yet")
    out, lse = _flash_attn("flash_attn_func", q, k, v, q_descale, k_descale, v_descale, softmax_scale, softcap, causal, num_splits,
                           None, num_sms - sm_margin, schedule, threads)
    return (out, lse) if return_attn_probs else out


def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, qv=None, rotary_cos=None, rotary_sin=None, cache_seqlens=None,
                            cache_batch_idx=None, cache_leftpad=None, page_table=None, cu_seqlens_q=None, cu_seqlens_k_new=None,
                            max_seqlen_q=None, rotary_seqlens=None, q_descale=None, k_descale=None, v_descale=None,
                            softmax_scale=None, causal=False, window_size=(-1, -1), attention_chunk=0, softcap=0.0,
                            rotary_interleaved=True, scheduler_metadata=None, num_splits=0, pack_gqa=None, sm_margin=0,
                            return_softmax_lse=False, *, num_sms=HOPPER_SM_COUNT, schedule=None, threads=None):
    """The kernel's decode path (`fa3_fwd_interface.flash_attn_with_kvcache`), bit for bit, on the CPU.

    q (batch, seqlen_q, heads, d); k_cache and v_cache (batch, cache_len, kv_heads, d), of which
    entry b uses its first `cache_seqlens[b]` keys (an int for all, or an int32 array/tensor of
    `batch`; None: all). `num_splits=0` (the default) runs the kernel's split heuristic and its
    per-entry split counts, then the combine kernel, for a GPU of `num_sms` − `sm_margin` SMs.
    `softcap` as in `flash_attn_func`. `cache_batch_idx` (int, batch) makes entry b read cache entry
    `cache_batch_idx[b]` (the caches then have their own batch size; descales stay per batch entry).
    Returns `out`, or `(out, lse)` with `return_softmax_lse=True`. Appending new keys (`k`, `v`),
    rotary embeddings, `cache_leftpad`, paged caches, `cu_seqlens_q`, windows, `attention_chunk`
    and `qv` are not emulated yet (ValueError)."""
    unsupported = {"k": k, "v": v, "qv": qv, "rotary_cos": rotary_cos, "rotary_sin": rotary_sin,
                   "cache_leftpad": cache_leftpad, "page_table": page_table, "cu_seqlens_q": cu_seqlens_q,
                   "cu_seqlens_k_new": cu_seqlens_k_new, "rotary_seqlens": rotary_seqlens, "scheduler_metadata": scheduler_metadata}
    given = [name for name, value in unsupported.items() if value is not None]
    if given or tuple(window_size) != (-1, -1) or attention_chunk != 0:
        raise ValueError(f"flash_attn_with_kvcache: {', '.join(given) or 'window_size or attention_chunk'} not emulated yet")
    out, lse = _flash_attn("flash_attn_with_kvcache", q, k_cache, v_cache, q_descale, k_descale, v_descale, softmax_scale, softcap,
                           causal, num_splits, cache_seqlens, num_sms - sm_margin, schedule, threads, cache_batch_idx)
    return (out, lse) if return_softmax_lse else out


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q=None, max_seqlen_k=None, seqused_q=None, seqused_k=None,
                           softmax_scale=None, causal=False, qv=None, q_descale=None, k_descale=None, v_descale=None,
                           window_size=(-1, -1), attention_chunk=0, softcap=0.0, num_splits=1, pack_gqa=None, deterministic=False,
                           sm_margin=0, return_attn_probs=False, *, num_sms=HOPPER_SM_COUNT, schedule=None, threads=None):
    """The kernel's variable-length form (`fa3_fwd_interface.flash_attn_varlen_func`), bit for bit, on the CPU.

    q (total_q, heads, d), k (total_k, kv_heads, d), v (total_k, kv_heads, dv): sequences packed one
    after another, `cu_seqlens_q` and `cu_seqlens_k` (int, batch + 1, from 0, non-decreasing) marking
    their starts; `max_seqlen_q`/`max_seqlen_k` as passed to the kernel (None: the longest). Returns
    `out` (total_q, heads, dv), or `(out, lse)` with `return_attn_probs=True` (lse (heads, total_q)).
    `softcap` as in `flash_attn_func`. `seqused_q`, `seqused_k`, `qv`, windows and `attention_chunk`
    are not emulated yet."""
    function = "flash_attn_varlen_func"
    if (seqused_q is not None or seqused_k is not None or qv is not None or tuple(window_size) != (-1, -1)
            or attention_chunk != 0):
        raise ValueError(f"{function}: seqused_q, seqused_k, qv, window_size and attention_chunk are not emulated yet")
    (qa, ka, va), element = _kernel_codes(function, (q, k, v), 3)
    tq, h, d = qa.shape
    tk, hk, dv = va.shape
    if ka.shape != (tk, hk, d):
        raise ValueError(f"{function}: shapes do not match: q {qa.shape}, k {ka.shape}, v {va.shape}")
    cus = []
    for name, cu in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
        a = cu.detach().cpu().numpy() if _is_torch(cu) else np.asarray(cu)
        if a.dtype.kind not in "iu" or a.ndim != 1 or a.size < 2:
            raise ValueError(f"{function}: {name} must be a 1-D integer array of batch + 1 >= 2 offsets, got {a.dtype} {a.shape}")
        if a.min() < 0 or a.max() > np.iinfo(np.int32).max:
            raise ValueError(f"{function}: {name} must be offsets in 0...2^31-1, got {a.min()}...{a.max()}")
        cus.append(np.ascontiguousarray(a, dtype=np.int32))
    if cus[0].size != cus[1].size:
        raise ValueError(f"{function}: cu_seqlens_q and cu_seqlens_k must have the same length (batch + 1), got {cus[0].size} and {cus[1].size}")
    b = cus[0].size - 1
    descales = _descales(function, (q_descale, k_descale, v_descale), b, hk)
    _check_int32(function, num_splits=num_splits, sm_count=num_sms - sm_margin)
    maxima = [0 if m is None else int(m) for m in (max_seqlen_q, max_seqlen_k)]
    out = np.empty((tq, h, dv), dtype=np.uint16)
    lse = np.empty((h, tq), dtype=np.float32)
    fp, u16, i32 = _native._c.c_float, _native._c.c_uint16, _native._c.c_int32
    check(lib.fn_flash_attn_varlen(element.encode(), b, tq, tk, h, hk, d, dv, _ptr(cus[0], i32), _ptr(cus[1], i32), *maxima,
                                   _ptr(qa, u16), _ptr(ka, u16), _ptr(va, u16), *[None if ds is None else _ptr(ds, fp) for ds in descales],
                                   1 if causal else 0, _scale(softmax_scale), _softcap(function, softcap), int(num_splits),
                                   int(num_sms - sm_margin),
                                   _schedule(function, schedule), _threads(threads),
                                   _ptr(out, u16), _ptr(lse, fp)))
    o, l = _kernel_outputs(q, element, out, lse)
    return (o, l) if return_attn_probs else o


def _kernel_codes(function, tensors, ndim):
    """The codes (uint16) of q, k, v and their common element type (bf16, fp16 or e4m3fn)."""
    arrays, element = [], None
    for name, t in zip("qkv", tensors):
        codes, e = _codes_numpy(t)
        if e not in ("bf16", "fp16", "e4m3fn"):
            raise TypeError(f"{function}: {name} must be bfloat16, float16 or float8_e4m3fn, got {getattr(t, 'dtype', type(t))}")
        if element is not None and e != element:
            raise TypeError(f"{function}: q, k and v must have one dtype, got {element} and {e}")
        element = e
        if codes.ndim != ndim:
            layout = "(batch, seqlen, heads, head_dim)" if ndim == 4 else "(total_tokens, heads, head_dim)"
            raise ValueError(f"{function}: {name} must be {ndim}-D {layout}, got shape {codes.shape}")
        arrays.append(np.ascontiguousarray(codes, dtype=np.uint16))
    return arrays, element


def _descales(function, descales, b, hk):
    """FP8 descales as float32 (batch, kv_heads) arrays (None stays None)."""
    result = []
    for name, ds in zip(("q_descale", "k_descale", "v_descale"), descales):
        if ds is None:
            result.append(None)
            continue
        a = ds.detach().cpu().float().numpy() if _is_torch(ds) else np.asarray(ds, dtype=np.float32)
        if a.shape != (b, hk):
            raise ValueError(f"{function}: {name} must be float32 (batch, kv_heads) = ({b}, {hk}), got shape {a.shape}")
        result.append(np.ascontiguousarray(a, dtype=np.float32))
    return result


def _check_int32(function, **values):
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or not -2**31 <= value < 2**31:
            raise ValueError(f"{function}: {name} must be an int32, got {value!r}")


def _kernel_outputs(q, element, out, lse):
    """O bits and LSE as q came in: torch tensors on q's device, or ml_dtypes arrays."""
    out_format = "fp16" if element == "fp16" else "bf16"
    if _is_torch(q):
        torch = _torch()
        o = torch.from_numpy(out.view(np.int16)).view(torch.float16 if out_format == "fp16" else torch.bfloat16).to(q.device)
        return o, torch.from_numpy(lse).to(q.device)
    return out.view(_dtype_of(out_format)), lse


def _schedule(function, schedule):
    """A schedule dict as the C ABI's "NAME=VALUE;NAME=VALUE" (None: the kernel's schedule)."""
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        raise TypeError(f"{function}: schedule must be a dict of FA3 schedule parameters, got {type(schedule).__name__}")
    items = []
    for name, value in schedule.items():
        text = ("true" if value else "false") if isinstance(value, bool) else ("none" if value is None else str(value))
        if any(c in f"{name}{text}" for c in ";=") or not str(name):
            raise ValueError(f"{function}: schedule parameter {name!r}={value!r} cannot contain ';' or '='")
        items.append(f"{name}={text}")
    return ";".join(items).encode()


def _per_entry(function, name, values, batch, largest, what):
    """One integer per batch entry (cache_seqlens, cache_batch_idx), each in 0...largest (`what`
    says why), from a sequence, a NumPy array or a torch tensor, as a contiguous int32 array."""
    a = values.detach().cpu().numpy() if _is_torch(values) else np.asarray(values)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{function}: {name} must be integers, got {a.dtype}")
    if a.shape != (batch,):
        raise ValueError(f"{function}: {name} must have shape (batch,) = ({batch},), got {a.shape}")
    if a.size and (a.min() < 0 or a.max() > largest):
        raise ValueError(f"{function}: {name} must be in 0...{largest} ({what}), got {a.min()}...{a.max()}")
    return np.ascontiguousarray(a, dtype=np.int32)


def _softcap(function, softcap):
    """softcap as a float >= 0 (0: off); anything else is a ValueError."""
    try:
        if isinstance(softcap, (str, bytes)):
            raise TypeError
        value = float(softcap)
    except (TypeError, ValueError):
        raise TypeError(f"{function}: softcap must be a number, got {softcap!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise ValueError(f"{function}: softcap must be finite and >= 0 (0: off), got {softcap!r}")
    return value


def _flash_attn(function, q, k, v, q_descale, k_descale, v_descale, softmax_scale, softcap, causal, num_splits, cache_seqlens,
                sm_count, schedule, threads, cache_batch_idx=None):
    """The common part of flash_attn_func and flash_attn_with_kvcache. With `cache_batch_idx`, K
    and V are caches of their own batch size and entry b reads cache entry cache_batch_idx[b]:
    their codes are gathered into batch order (what the kernel reads)."""
    (qa, ka, va), element = _kernel_codes(function, (q, k, v), 4)
    b, sq, h, d = qa.shape
    dv = va.shape[3]
    if ka.shape[:3] != va.shape[:3] or ka.shape[3] != d or (cache_batch_idx is None and ka.shape[0] != b):
        raise ValueError(f"{function}: shapes do not match: q {qa.shape}, k {ka.shape}, v {va.shape}")
    if cache_batch_idx is not None:
        index = _per_entry(function, "cache_batch_idx", cache_batch_idx, b, ka.shape[0] - 1, "the cache's entries")
        ka, va = np.ascontiguousarray(ka[index]), np.ascontiguousarray(va[index])
    hk = ka.shape[2]
    descales = _descales(function, (q_descale, k_descale, v_descale), b, hk)
    lens = None
    if cache_seqlens is not None:
        if isinstance(cache_seqlens, (int, np.integer)):
            cache_seqlens = np.full(b, int(cache_seqlens))
        lens = _per_entry(function, "cache_seqlens", cache_seqlens, b, ka.shape[1], "the cache length")
    _check_int32(function, num_splits=num_splits, sm_count=sm_count)
    out = np.empty((b, sq, h, dv), dtype=np.uint16)
    lse = np.empty((b, h, sq), dtype=np.float32)
    fp = _native._c.c_float
    check(lib.fn_flash_attn(element.encode(), b, sq, ka.shape[1], h, hk, d, dv,
                            _ptr(qa, _native._c.c_uint16), _ptr(ka, _native._c.c_uint16), _ptr(va, _native._c.c_uint16),
                            *[None if ds is None else _ptr(ds, fp) for ds in descales],
                            1 if causal else 0, _scale(softmax_scale), _softcap(function, softcap), int(num_splits),
                            None if lens is None else _ptr(lens, _native._c.c_int32), int(sm_count), _schedule(function, schedule),
                            _threads(threads), _ptr(out, _native._c.c_uint16), _ptr(lse, fp)))
    return _kernel_outputs(q, element, out, lse)


def _window(window):
    left, right = window
    for side in (left, right):
        if side is not None and int(side) < 0:
            raise ValueError(f"window sides must be None (unbounded) or ≥ 0, got {tuple(window)}")
    return -1 if left is None else int(left), -1 if right is None else int(right)


def _attention_inputs(q, k, v):
    qa, ka, va = _values(q, "q"), _values(k, "k"), _values(v, "v")
    for name, a in (("q", qa), ("k", ka), ("v", va)):
        if a.ndim != 4:
            raise ValueError(f"{name} must be 4-D (batch, seqlen, heads, head_dim), got shape {a.shape}")
    b, sq, h, d = qa.shape
    if ka.shape != va.shape or ka.shape[0] != b or ka.shape[3] != d:
        raise ValueError(f"shapes do not match: q {qa.shape}, k {ka.shape}, v {va.shape}")
    return qa, ka, va, (b, sq, ka.shape[1], h, ka.shape[2], d)


def _like(x, a):
    return _torch().from_numpy(a) if _is_torch(x) else a


def attention(q, k, v, scheme="fp32", algorithm="blocked", causal=False, window=(None, None), softmax_scale=None, seed=0, threads=None):
    """Emulated attention of value inputs (as `flashnum attention`): the scheme's rotation (a random
    one, such as the `-hadamard` schemes' diag(s)·H/√d, drawn from `seed`; other schemes do not
    depend on it), quantization and precision plan, run by `algorithm`
    (naive, blocked, blocked(BRxBC[,reverse]), blocked-fa3, fa3). Returns O as float64 (each a value
    of the scheme's output format). `window` = (left, right) key distances, None for unbounded."""
    qa, ka, va, sizes = _attention_inputs(q, k, v)
    out = np.empty(qa.shape, dtype=np.float64)
    d = _native._c.c_double
    left, right = _window(window)
    check(lib.fn_attention(_bytes(scheme), _bytes(algorithm), *sizes, _ptr(qa, d), _ptr(ka, d), _ptr(va, d),
                           1 if causal else 0, left, right, _scale(softmax_scale), _seed(seed), _threads(threads), _ptr(out, d)))
    return _like(q, out)


def reference(q, k, v, precision_bits=128, causal=False, window=(None, None), softmax_scale=None, threads=None):
    """The MPFR reference of the exact input values at `precision_bits` (24...8192) with its
    rigorous error bound: returns (O as the nearest float64s, certified_bits), where every output
    has at least certified_bits correct leading bits (≥ 53: within about an ulp of float64)."""
    qa, ka, va, sizes = _attention_inputs(q, k, v)
    out = np.empty(qa.shape, dtype=np.float64)
    bits = _native._c.c_int32(0)
    d = _native._c.c_double
    left, right = _window(window)
    check(lib.fn_reference(*sizes, _ptr(qa, d), _ptr(ka, d), _ptr(va, d), 1 if causal else 0, left, right, _scale(softmax_scale),
                           int(precision_bits), _threads(threads), _ptr(out, d), _native._c.byref(bits)))
    return _like(q, out), bits.value


def metrics(out, ref, format=None):
    """Error metrics of `out` against `ref` (same shape) as a dict: count, rmse, relative_frobenius,
    max_abs, cosine, sqnr_db (dB), and with `format` (the output's format name, e.g. bf16, or fp32)
    max_ulp and mean_ulp in units in the last place of that format."""
    o, r = _values(out, "out"), _values(ref, "ref")
    if o.shape != r.shape:
        raise ValueError(f"metrics: out {o.shape} and ref {r.shape} differ in shape")
    d = _native._c.c_double
    result = json.loads(take_string(lib.fn_metrics_json(o.size, _ptr(o, d), _ptr(r, d), _bytes(format))))
    return {key: float(value) if isinstance(value, str) else value for key, value in result.items()}


def attribute(q, k, v, scheme, algorithm="blocked", causal=False, window=(None, None), softmax_scale=None, seed=0,
              precision_bits=128, threads=None):
    """Where a scheme's error comes from (as `flashnum attention --attribute`): a dict with the
    metrics of its output against the MPFR reference at `precision_bits`, and `attribution`, one
    dict per rounding stage of its plan (stage, rmse_with_stage_exact, contribution)."""
    qa, ka, va, sizes = _attention_inputs(q, k, v)
    d = _native._c.c_double
    left, right = _window(window)
    result = json.loads(take_string(lib.fn_attribute_json(_bytes(scheme), _bytes(algorithm), *sizes, _ptr(qa, d), _ptr(ka, d), _ptr(va, d),
                                                          1 if causal else 0, left, right, _scale(softmax_scale), _seed(seed),
                                                          int(precision_bits), _threads(threads))))
    def numbers(entry):
        return {key: float(value) if isinstance(value, str) and key != "stage" else value for key, value in entry.items()}
    return {"metrics": numbers(result["metrics"]), "attribution": [numbers(e) for e in result["attribution"]]}


def table_fa3(seq_len=1024, head_dim=128, batch=1, heads=2, seed=0, reference_bits="double-word", threads=None):
    """The FlashAttention-3 paper's Table 3 on the emulator for one input seed and one rotation
    seed, both `seed` (as `flashnum table fa3 --seeds S --rotation-seeds S --json`): one dict per
    method, in table order, with `method`, `scheme`, `precision`, `algorithm`,
    `block_quantization`, `incoherent_processing`, the metrics against the reference
    (`rmse`, `max_abs`, ... in output units; None where not finite), `paper_rmse`, `samples`
    and `reference_certified_bits`. The reference is the certified double-word one by default
    (`reference_bits="double-word"`), MPFR at `reference_bits` bits (24...8192) when it is an
    integer, or the FP64 pipeline (uncertified) when it is None."""
    if isinstance(reference_bits, str):
        if reference_bits != "double-word":
            raise ValueError(f"reference_bits must be 'double-word', None or in 24...8192, got {reference_bits!r}")
        bits = -1
    else:
        bits = 0 if reference_bits is None else int(reference_bits)
        if reference_bits is not None and not 24 <= bits <= 8192:
            raise ValueError(f"reference_bits must be 'double-word', None or in 24...8192, got {reference_bits}")
    return json.loads(take_string(lib.fn_table_fa3_json(int(batch), int(seq_len), int(heads), int(head_dim), _seed(seed), bits,
                                                        _threads(threads))))


def mma(instruction, a, b, c):
    """One emulated H100 MMA per tile, bit for bit: D[t,i,j] = Σ_k A[t,i,k]·B[t,j,k] + C[t,i,j] with
    A (T,M,K), B (T,N,K) codes (unsigned integers or ml_dtypes arrays), C FP32 bit patterns (uint32,
    or float32 values) (T,M,N). Returns D's FP32 bit patterns (uint32)."""
    ac, bc = _codes_numpy(a)[0], _codes_numpy(b)[0]
    cc = np.asarray(c)
    cc = cc.view(np.uint32) if cc.dtype == np.float32 else cc
    for name, x in (("a", ac), ("b", bc), ("c", cc)):
        if x.ndim != 3 or x.dtype.kind != "u":
            raise TypeError(f"mma: {name} must be 3-D unsigned codes, got dtype {x.dtype}, shape {x.shape}")
    t, m, kk = ac.shape
    if bc.shape[0] != t or bc.shape[2] != kk or cc.shape != (t, m, bc.shape[1]):
        raise ValueError(f"mma: shapes do not match: A {ac.shape}, B {bc.shape}, C {cc.shape}")
    a32, b32, c32 = (np.ascontiguousarray(x, dtype=np.uint32) for x in (ac, bc, cc))
    d = np.empty(cc.shape, dtype=np.uint32)
    u = _native._c.c_uint32
    check(lib.fn_mma(_bytes(instruction), t, m, bc.shape[1], kk, _ptr(a32, u), _ptr(b32, u), _ptr(c32, u), _ptr(d, u)))
    return d


def mufu(function, x):
    """The Hopper MUFU model of `function` on float32 values: ex2, rcp, lg2 (`.approx.ftz.f32`) or
    tanh (`tanh.approx.f32`, softcap's tanh)."""
    xa = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    out = np.empty(xa.shape, dtype=np.float32)
    f = _native._c.c_float
    check(lib.fn_mufu(_bytes(function), _ptr(xa, f), xa.size, _ptr(out, f)))
    return out


def fa3_case_inputs(element, head_dim, seq_len_q, seq_len_k=None, batch=1, heads=2, kv_heads=None, causal=False,
                    distribution="fa3", hadamard=False, seed=0, num_splits=1, cache_seqlens=None, nan_codes=0, head_dim_v=None,
                    softcap=0.0):
    """The inputs of a crosscheck case (the keys of a case.json file): a dict with q, k, v as
    ml_dtypes arrays of `element` (bf16, fp16, e4m3fn; v of head dim `head_dim_v`, default
    `head_dim`; `nan_codes` codes set to NaN) and, for e4m3fn, q_descale, k_descale, v_descale
    (float32 (batch, kv_heads)); `causal`, `num_splits`, `cache_seqlens` and `softcap` (the
    call's, not the inputs') are returned as given."""
    seq_len_k = seq_len_q if seq_len_k is None else seq_len_k
    kv_heads = heads if kv_heads is None else kv_heads
    dims = [int(x) for x in (batch, seq_len_q, seq_len_k, heads, kv_heads, head_dim)]
    if min(dims) < 1:
        raise ValueError(f"fa3_case_inputs: sizes must be positive, got {dims}")
    b, sq, sk, h, hk, d = dims
    dv = d if head_dim_v is None else int(head_dim_v)
    limit = lib.fn_tensor_limit()
    for name, count in (("Q", b * sq * h * d), ("K and V", b * sk * hk * max(d, dv))):
        if count > limit:
            raise ValueError(f"fa3_case_inputs: {name} would hold {count} elements, more than the limit of {limit} per tensor "
                             "(FLASHNUM_MAX_TENSOR_ELEMENTS)")
    q = np.empty((b, sq, h, d), dtype=np.uint16)
    k = np.empty((b, sk, hk, d), dtype=np.uint16)
    v = np.empty((b, sk, hk, dv), dtype=np.uint16)
    ds = [np.ones((b, hk), dtype=np.float32) for _ in range(3)]
    u, f = _native._c.c_uint16, _native._c.c_float
    check(lib.fn_fa3_case_inputs(_bytes(element), d, dv, sq, sk, b, h, hk, 1 if causal else 0, _bytes(distribution),
                                 1 if hadamard else 0, _seed(seed), int(nan_codes), _ptr(q, u), _ptr(k, u), _ptr(v, u),
                                 *[_ptr(x, f) for x in ds]))
    dtype = _dtype_of(element)
    narrow = (lambda a: a.astype(np.uint8)) if dtype.itemsize == 1 else (lambda a: a)
    result = {"q": narrow(q).view(dtype), "k": narrow(k).view(dtype), "v": narrow(v).view(dtype), "causal": bool(causal),
              "num_splits": int(num_splits), "cache_seqlens": None if cache_seqlens is None else np.asarray(cache_seqlens, np.int32),
              "softcap": float(softcap)}
    if element == "e4m3fn":
        result.update(q_descale=ds[0], k_descale=ds[1], v_descale=ds[2])
    return result
