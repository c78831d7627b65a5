"""Hooks into a model's attention: `emulate` runs every `F.scaled_dot_product_attention` call
emulated; `capture` records each call's inputs and torch's own output into one safetensors file;
`read_capture` reads such a file back.

Both replace `torch.nn.functional.scaled_dot_product_attention` for the duration of a `with`
block (code that looks the function up through `torch.nn.functional` at call time, as
`torch.nn.MultiheadAttention`'s fast path does not but most models and Hugging Face's "sdpa"
attention do) and restore it on exit, also on an exception. They are not thread-safe: one block
at a time per process.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile

import torch
import torch.nn.functional as F

from .. import _validate
from .functional import scaled_dot_product_attention

FORMAT = "flashnumerics-capture-1"


@contextlib.contextmanager
def _replaced(function):
    original = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = function
    try:
        yield original
    finally:
        F.scaled_dot_product_attention = original


@contextlib.contextmanager
def emulate(scheme: str = "fp32", algorithm: str | None = "blocked", seed: int = 0, threads: int | None = None, observe=None):
    """Within the block, every `F.scaled_dot_product_attention(q, k, v, ...)` runs emulated with
    `scheme` and `algorithm` (same arguments and results as torch's; see
    `flashnumerics.torch.scaled_dot_product_attention`). `observe(call, args, kwargs, out)`, when
    given, sees each call after it ran (`call` counts from 0)."""
    _validate.text("emulate", "scheme", scheme)
    calls = [0]

    def emulated(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        out = scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
                                           scheme=scheme, algorithm=algorithm, seed=seed, threads=threads)
        if observe is not None:
            observe(calls[0], (query, key, value), dict(attn_mask=attn_mask, is_causal=is_causal, scale=scale,
                                                          enable_gqa=enable_gqa), out)
        calls[0] += 1
        return out

    with _replaced(emulated):
        yield


def _heads(function, heads):
    if heads is None:
        return None
    if isinstance(heads, int) or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 0 for h in heads) or not heads:
        raise TypeError(f"{function}: heads must be None or a non-empty list of query head indices ≥ 0, got {_validate.shown(heads)}")
    return list(heads)


class Capture:
    """What `capture` recorded so far: `entries` (one metadata dict per kept call)."""

    def __init__(self):
        self.entries: list[dict] = []
        self.tensors: dict[str, torch.Tensor] = {}


@contextlib.contextmanager
def capture(path, model: torch.nn.Module | None = None, layers=None, heads=None):
    """Records q, k, v, the mask (if any) and torch's own output of every SDPA call in the block
    into the safetensors file `path`, written once at the end (to a temporary file renamed into
    place: a reader never sees half a file; on an exception the calls so far are written with
    status "interrupted" and the exception goes on).

    Entries are named `call{N}.q`, `.k`, `.v`, `.out` (and `.mask`), in the (batch, heads,
    seqlen, head_dim) layout (3-D calls get a batch axis of 1) and dtype torch saw; the file's metadata key "flashnumerics" holds
    JSON: {"format", "status", "entries": [{"name", "call", "layer", "forward", "shape",
    "dtype", "is_causal", "scale", "enable_gqa", "heads", "mask"}]}. `layer` is the call's index
    within one forward of `model` (given: counted per forward; else equal to `call`). `layers`
    keeps only those layer indices; `heads` keeps only those query heads (their key/value heads
    are stored one per kept query head, so the entry needs no GQA)."""
    function = "capture"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{function}: path must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{function}: the folder of {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{function}: {path!r} is a folder; give the capture file's path")
    keep_layers = None if layers is None else {_validate.integer(function, "layers", x, 0, 1 << 31) for x in layers}
    keep_heads = _heads(function, heads)
    record = Capture()
    state = {"call": 0, "layer": 0, "forward": -1}
    hook = None
    if model is not None:
        def start(_module, _inputs):
            state["forward"] += 1
            state["layer"] = 0
        hook = model.register_forward_pre_hook(start)

    def recorded(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        out = original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale,
                       enable_gqa=enable_gqa)
        call, layer = state["call"], (state["layer"] if model is not None else state["call"])
        state["call"] += 1
        state["layer"] += 1
        if keep_layers is not None and layer not in keep_layers:
            return out
        q, k, v, o = (x.detach() for x in (query, key, value, out))
        if q.dim() == 3:   # (heads, seqlen, head_dim): stored with a batch axis of 1
            q, k, v, o = (x.unsqueeze(0) for x in (q, k, v, o))
        gqa = bool(enable_gqa) and q.shape[-3] != k.shape[-3]
        if keep_heads is not None:
            hq = q.shape[-3]
            if max(keep_heads) >= hq:
                raise ValueError(f"{function}: heads {keep_heads} name a head ≥ the query's {hq}")
            kv = [h * k.shape[-3] // hq for h in keep_heads]
            q, o = q[..., keep_heads, :, :], o[..., keep_heads, :, :]
            k, v = k[..., kv, :, :], v[..., kv, :, :]
            gqa = False
        name = f"call{call}"
        tensors = {"q": q, "k": k, "v": v, "out": o}
        if attn_mask is not None:
            m = attn_mask.detach()
            if keep_heads is not None and m.dim() >= 3 and m.shape[-3] > 1:
                m = m[..., keep_heads, :, :]
            tensors["mask"] = m
        for part, t in tensors.items():
            record.tensors[f"{name}.{part}"] = t.to("cpu", copy=True).contiguous()  # a copy: the model may reuse its buffers
        record.entries.append(dict(name=name, call=call, layer=layer, forward=max(state["forward"], 0),
                                   shape={"q": list(q.shape), "k": list(k.shape), "v": list(v.shape)},
                                   dtype=str(q.dtype).replace("torch.", ""), is_causal=bool(is_causal),
                                   scale=None if scale is None else float(scale), enable_gqa=gqa, heads=keep_heads,
                                   mask=attn_mask is not None))
        return out

    status = "complete"
    try:
        with _replaced(recorded) as original:
            yield record
    except BaseException:
        status = "interrupted"
        raise
    finally:
        if hook is not None:
            hook.remove()
        _write(path, record, status)


def _write(path, record, status):
    from safetensors.torch import save_file

    metadata = {"flashnumerics": json.dumps({"format": FORMAT, "status": status, "entries": record.entries})}
    handle, temporary = tempfile.mkstemp(prefix=".capture-", suffix=".safetensors", dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    try:
        save_file(record.tensors, temporary, metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)   # as a plain open() would have made it, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_capture(path) -> tuple[dict, dict[str, torch.Tensor]]:
    """A capture file: (metadata dict as `capture` wrote it, tensors by name). A missing,
    truncated or foreign file raises ValueError naming it."""
    function = "read_capture"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{function}: path must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{function}: no such file: {path!r}")
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as f:
            meta = (f.metadata() or {}).get("flashnumerics")
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise ValueError(f"{function}: {path!r} is not a readable safetensors file ({_validate.shown(str(error))})") from None
    if meta is None:
        raise ValueError(f"{function}: {path!r} has no flashnumerics capture metadata")
    try:
        info = json.loads(meta)
    except json.JSONDecodeError:
        raise ValueError(f"{function}: {path!r}: its capture metadata is not JSON") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        shown = _validate.shown(info.get("format") if isinstance(info, dict) else info)
        raise ValueError(f"{function}: {path!r}: capture format {shown}, expected {FORMAT}")
    entries = info.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries):
        raise ValueError(f"{function}: {path!r}: the capture metadata's entries must be a list of objects with a name")
    for entry in entries:
        for part in ("q", "k", "v", "out") + (("mask",) if entry.get("mask") else ()):
            if f"{entry['name']}.{part}" not in tensors:
                raise ValueError(f"{function}: {path!r}: entry {entry['name']} lacks its tensor {part}")
    return info, tensors
