"""The FlashAttention-3 forward kernel (the `fa3_fwd_interface` functions), bit for bit, on the CPU,
and the inputs of the crosscheck cases."""
from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays, _validate
from ._native import check, lib, make

HOPPER_SM_COUNT = 132
"""SMs of an H100 SXM or H200: the default `num_sms` of the kernel twins (the real kernel reads
its device's count, less `sm_margin`, for its split heuristics)."""

_ELEMENTS = ("bf16", "fp16", "e4m3fn")
INT32_MAX = (1 << 31) - 1


def _kernel_codes(function, tensors, ndim):
    """The codes (uint16) of q, k, v and their common element type (bf16, fp16 or e4m3fn)."""
    arrays, element = [], None
    for name, t in zip("qkv", tensors):
        c, e = _arrays.codes(function, name, t)
        if e not in _ELEMENTS:
            raise TypeError(f"{function}: {name} must be bfloat16, float16 or float8_e4m3fn, got {getattr(t, 'dtype', type(t))}")
        if element is not None and e != element:
            raise TypeError(f"{function}: q, k and v must have one dtype, got {element} and {e}")
        element = e
        if c.ndim != ndim:
            layout = "(batch, seqlen, heads, head_dim)" if ndim == 4 else "(total_tokens, heads, head_dim)"
            raise ValueError(f"{function}: {name} must be {ndim}-D {layout}, got shape {c.shape}")
        arrays.append(np.ascontiguousarray(c, dtype=np.uint16))
    return arrays, element


def _descales(function, descales, b, hk):
    """FP8 descales as float32 (batch, kv_heads) arrays (None stays None)."""
    return [None if ds is None else _arrays.float32s(function, name, ds, (b, hk))
            for name, ds in zip(("q_descale", "k_descale", "v_descale"), descales)]


def _schedule(function, schedule):
    """A schedule dict as the C ABI's "NAME=VALUE;NAME=VALUE" (None: the kernel's schedule)."""
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        raise TypeError(f"{function}: schedule must be a dict of FA3 schedule parameters, got {type(schedule).__name__}")
    items = []
    for name, value in schedule.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{function}: schedule parameter names must be non-empty strings, got {_validate.shown(name)}")
        text = ("true" if value else "false") if isinstance(value, bool) else ("none" if value is None else str(value))
        if any(c in f"{name}{text}" for c in ";=\0"):
            raise ValueError(f"{function}: schedule parameter {_validate.shown(name)}={_validate.shown(value)} cannot contain ';', '=' or NUL")
        items.append(f"{name}={text}")
    return ";".join(items)


def _unsupported(function, window_size, attention_chunk, **given):
    """ValueError naming what the twin does not emulate yet, when any of it is given."""
    named = [name for name, value in given.items() if value is not None]
    if not isinstance(window_size, (tuple, list)) or len(window_size) != 2:
        raise TypeError(f"{function}: window_size must be a pair, got {_validate.shown(window_size)}")
    if tuple(window_size) != (-1, -1):
        named.append("window_size")
    if attention_chunk != 0:
        named.append("attention_chunk")
    if named:
        raise ValueError(f"{function}: {', '.join(named)} not emulated yet")


def _common(function, causal, softmax_scale, softcap, num_splits, num_sms, sm_margin, schedule, threads):
    """The scalar fields every kernel call shares, each checked."""
    sms = _validate.integer(function, "num_sms", num_sms, 1, 1 << 20) - _validate.integer(function, "sm_margin", sm_margin, 0, 1 << 20)
    if sms < 1:
        raise ValueError(f"{function}: num_sms - sm_margin must be at least 1, got {sms}")
    return dict(causal=int(_validate.flag(function, "causal", causal)), softmax_scale=_validate.softmax_scale(function, softmax_scale),
                softcap=_validate.softcap(function, softcap), num_splits=_validate.integer(function, "num_splits", num_splits, 0, 256),
                sm_count=sms, schedule=_schedule(function, schedule), threads=_validate.threads(function, threads))


def _outputs(q, element, out, lse):
    """O bits and LSE as q came in: torch tensors on q's device, or ml_dtypes arrays."""
    out_format = "fp16" if element == "fp16" else "bf16"
    if _arrays.is_torch(q):
        return _arrays.like_codes(q, out, out_format), _arrays.like(q, lse)
    return out.view(_arrays.dtype_of(out_format)), lse


def _run(function, q, k, v, descales, common, cache_seqlens=None, cache_batch_idx=None):
    """flash_attn_func and flash_attn_with_kvcache. With `cache_batch_idx`, K and V are caches of
    their own batch size and entry b reads cache entry cache_batch_idx[b]: their codes are gathered
    into batch order (what the kernel reads)."""
    (qa, ka, va), element = _kernel_codes(function, (q, k, v), 4)
    b, sq, h, d = qa.shape
    dv = va.shape[3]
    if ka.shape[:3] != va.shape[:3] or ka.shape[3] != d or (cache_batch_idx is None and ka.shape[0] != b):
        raise ValueError(f"{function}: shapes do not match: q {qa.shape}, k {ka.shape}, v {va.shape}")
    if cache_batch_idx is not None:
        index = _arrays.integers(function, "cache_batch_idx", cache_batch_idx, (b,), 0, ka.shape[0] - 1, "the cache's entries")
        ka, va = np.ascontiguousarray(ka[index]), np.ascontiguousarray(va[index])
    hk = ka.shape[2]
    ds = _descales(function, descales, b, hk)
    lens = None
    if cache_seqlens is not None:
        if isinstance(cache_seqlens, (int, np.integer)) and not isinstance(cache_seqlens, bool):
            cache_seqlens = np.full(b, _validate.integer(function, "cache_seqlens", cache_seqlens, 0, ka.shape[1]))
        lens = _arrays.integers(function, "cache_seqlens", cache_seqlens, (b,), 0, ka.shape[1], "the cache length")
    out = np.empty((b, sq, h, dv), dtype=np.uint16)
    lse = np.empty((b, h, sq), dtype=np.float32)
    args = make("fn_kernel_args", element=element,
                shape=dict(batch=b, seqlen_q=sq, seqlen_k=ka.shape[1], heads=h, kv_heads=hk, head_dim=d, head_dim_v=dv),
                q=qa, k=ka, v=va, q_descale=ds[0], k_descale=ds[1], v_descale=ds[2], cache_seqlens=lens, cu_seqlens_q=None,
                cu_seqlens_k=None, max_seqlen_q=0, max_seqlen_k=0, **common)
    check(lib.fn_flash_attn(ctypes.byref(args), out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint16)),
                            lse.ctypes.data_as(ctypes.POINTER(ctypes.c_float))))
    return _outputs(q, element, out, lse)


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
    function = "flash_attn_func"
    _unsupported(function, window_size, attention_chunk, qv=qv)
    common = _common(function, causal, softmax_scale, softcap, num_splits, num_sms, sm_margin, schedule, threads)
    wanted = _validate.flag(function, "return_attn_probs", return_attn_probs)
    out, lse = _run(function, q, k, v, (q_descale, k_descale, v_descale), common)
    return (out, lse) if wanted else out


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
    function = "flash_attn_with_kvcache"
    _unsupported(function, window_size, attention_chunk, k=k, v=v, qv=qv, rotary_cos=rotary_cos, rotary_sin=rotary_sin,
                 cache_leftpad=cache_leftpad, page_table=page_table, cu_seqlens_q=cu_seqlens_q, cu_seqlens_k_new=cu_seqlens_k_new,
                 rotary_seqlens=rotary_seqlens, scheduler_metadata=scheduler_metadata)
    common = _common(function, causal, softmax_scale, softcap, num_splits, num_sms, sm_margin, schedule, threads)
    wanted = _validate.flag(function, "return_softmax_lse", return_softmax_lse)
    out, lse = _run(function, q, k_cache, v_cache, (q_descale, k_descale, v_descale), common, cache_seqlens, cache_batch_idx)
    return (out, lse) if wanted else out


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
    _unsupported(function, window_size, attention_chunk, seqused_q=seqused_q, seqused_k=seqused_k, qv=qv)
    common = _common(function, causal, softmax_scale, softcap, num_splits, num_sms, sm_margin, schedule, threads)
    wanted = _validate.flag(function, "return_attn_probs", return_attn_probs)
    (qa, ka, va), element = _kernel_codes(function, (q, k, v), 3)
    tq, h, d = qa.shape
    tk, hk, dv = va.shape
    if ka.shape != (tk, hk, d):
        raise ValueError(f"{function}: shapes do not match: q {qa.shape}, k {ka.shape}, v {va.shape}")
    cus = []
    for name, cu in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
        a = _arrays.checked(function, name, cu)
        n = len(a) if getattr(a, "ndim", 1) == 1 else -1
        if n < 2:
            raise ValueError(f"{function}: {name} must be a 1-D integer array of batch + 1 >= 2 offsets, got shape {tuple(getattr(a, 'shape', ()))}")
        cus.append(_arrays.integers(function, name, a, (n,), 0, INT32_MAX, "offsets", "(batch + 1,)"))
    if cus[0].size != cus[1].size:
        raise ValueError(f"{function}: cu_seqlens_q and cu_seqlens_k must have the same length (batch + 1), got {cus[0].size} and {cus[1].size}")
    b = cus[0].size - 1
    ds = _descales(function, (q_descale, k_descale, v_descale), b, hk)
    maxima = [0 if m is None else _validate.size(function, name, m, lo=0)
              for name, m in (("max_seqlen_q", max_seqlen_q), ("max_seqlen_k", max_seqlen_k))]
    out = np.empty((tq, h, dv), dtype=np.uint16)
    lse = np.empty((h, tq), dtype=np.float32)
    args = make("fn_kernel_args", element=element,
                shape=dict(batch=b, seqlen_q=tq, seqlen_k=tk, heads=h, kv_heads=hk, head_dim=d, head_dim_v=dv),
                q=qa, k=ka, v=va, q_descale=ds[0], k_descale=ds[1], v_descale=ds[2], cache_seqlens=None, cu_seqlens_q=cus[0],
                cu_seqlens_k=cus[1], max_seqlen_q=maxima[0], max_seqlen_k=maxima[1], **common)
    check(lib.fn_flash_attn_varlen(ctypes.byref(args), out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint16)),
                                   lse.ctypes.data_as(ctypes.POINTER(ctypes.c_float))))
    o, l = _outputs(q, element, out, lse)
    return (o, l) if wanted else o


def fa3_case_inputs(element: str, head_dim: int, seq_len_q: int, seq_len_k: int | None = None, batch: int = 1, heads: int = 2,
                    kv_heads: int | None = None, causal: bool = False, distribution: str = "sparse-outliers", hadamard: bool = False, seed: int = 0,
                    num_splits: int = 1, cache_seqlens=None, nan_codes: int = 0, head_dim_v: int | None = None,
                    softcap: float = 0.0) -> dict:
    """The inputs of a crosscheck case (the keys of a case.json file): a dict with q, k, v as
    ml_dtypes arrays of `element` (bf16, fp16, e4m3fn; v of head dim `head_dim_v`, default
    `head_dim`; `nan_codes` codes set to NaN) and, for e4m3fn, q_descale, k_descale, v_descale
    (float32 (batch, kv_heads)); `causal`, `num_splits`, `cache_seqlens` and `softcap` (the
    call's, not the inputs') are returned as given."""
    function = "fa3_case_inputs"
    if element not in _ELEMENTS:
        raise ValueError(f"{function}: element must be one of {', '.join(_ELEMENTS)}, got {_validate.shown(element)}")
    size = lambda name, value: _validate.size(function, name, value)
    sq = size("seq_len_q", seq_len_q)
    sk = sq if seq_len_k is None else size("seq_len_k", seq_len_k)
    h = size("heads", heads)
    b, hk, d = size("batch", batch), h if kv_heads is None else size("kv_heads", kv_heads), size("head_dim", head_dim)
    dv = d if head_dim_v is None else _validate.integer(function, "head_dim_v", head_dim_v, 1, 512)
    for name, shape in (("Q", (b, sq, h, d)), ("K and V", (b, sk, hk, max(d, dv)))):
        _validate.elements(function, name, shape)
    q = np.empty((b, sq, h, d), dtype=np.uint16)
    k = np.empty((b, sk, hk, d), dtype=np.uint16)
    v = np.empty((b, sk, hk, dv), dtype=np.uint16)
    ds = [np.ones((b, hk), dtype=np.float32) for _ in range(3)]
    args = make("fn_case_args", element=element, shape=dict(batch=b, seqlen_q=sq, seqlen_k=sk, heads=h, kv_heads=hk, head_dim=d, head_dim_v=dv),
                causal=int(_validate.flag(function, "causal", causal)), distribution=_validate.text(function, "distribution", distribution),
                hadamard=int(_validate.flag(function, "hadamard", hadamard)), seed=_validate.seed(function, "seed", seed),
                nan_codes=_validate.integer(function, "nan_codes", nan_codes, 0, 1_000_000))
    outputs = make("fn_case_outputs", q=q, k=k, v=v, q_descale=ds[0], k_descale=ds[1], v_descale=ds[2])
    check(lib.fn_fa3_case_inputs(ctypes.byref(args), ctypes.byref(outputs)))
    dtype = _arrays.dtype_of(element)
    narrow = (lambda a: a.astype(np.uint8)) if dtype.itemsize == 1 else (lambda a: a)
    result = {"q": narrow(q).view(dtype), "k": narrow(k).view(dtype), "v": narrow(v).view(dtype), "causal": bool(causal),
              "num_splits": _validate.integer(function, "num_splits", num_splits, 0, 256),
              "cache_seqlens": None if cache_seqlens is None else _arrays.integers(function, "cache_seqlens", cache_seqlens, (b,), 0, sk,
                                                                                  "the cache length"),
              "softcap": _validate.softcap(function, softcap)}
    if element == "e4m3fn":
        result.update(q_descale=ds[0], k_descale=ds[1], v_descale=ds[2])
    return result
