"""`scaled_dot_product_attention` with PyTorch's signature and semantics, computed by the emulator.

Tensors are in SDPA's (batch, heads, seqlen, head_dim) layout (or (heads, seqlen, head_dim));
the result is a tensor of the query's dtype on the query's device. The computation runs on the
CPU in the emulator: the inputs' values (bf16, fp16, fp32, fp64, float8) are taken exactly, the
scheme quantizes and rounds them as its plan says, and the scheme's output values are cast to
the query's dtype (round to nearest even).
"""
from __future__ import annotations

import math

import torch

from .. import _validate, emulation


def _four_d(function, name, x):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{function}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_complex() or not (x.is_floating_point()):
        raise TypeError(f"{function}: {name} must hold real floating-point values, got {x.dtype}")
    if x.dim() == 3:
        return x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"{function}: {name} must be 4-D (batch, heads, seqlen, head_dim) or 3-D, got shape {tuple(x.shape)}")
    return x


def _mask(function, attn_mask, full_shape):
    """attn_mask as a CPU tensor (bool, or float64 values) that broadcasts to `full_shape`."""
    if attn_mask is None:
        return None
    if not isinstance(attn_mask, torch.Tensor):
        raise TypeError(f"{function}: attn_mask must be a torch.Tensor or None, got {type(attn_mask).__name__}")
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise TypeError(f"{function}: attn_mask must be boolean or floating point, got {attn_mask.dtype}")
    try:
        torch.broadcast_shapes(tuple(attn_mask.shape), full_shape)
    except RuntimeError:
        raise ValueError(f"{function}: attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to "
                         f"(batch, heads, seqlen_q, seqlen_k) = {full_shape}") from None
    if attn_mask.dim() > 4:
        raise ValueError(f"{function}: attn_mask has {attn_mask.dim()} dimensions, at most 4")
    m = attn_mask.detach().cpu()
    return m if m.dtype == torch.bool else m.double()


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, *, scheme: str = "fp32", algorithm: str | None = "blocked", seed: int = 0,
                                 threads: int | None = None):
    """`torch.nn.functional.scaled_dot_product_attention`, emulated with `scheme` and `algorithm`
    (as `flashnumerics.attention`).

    - query (B, Hq, L, E), key (B, Hkv, S, E), value (B, Hkv, S, E) (3-D: no batch axis); value's
      head dim must equal the query's;
    - `attn_mask`: boolean (True takes part) or additive float values, broadcast to (B, Hq, L, S);
    - `is_causal`: the top-left causal mask, as torch defines it (query i sees keys 0...i);
      it may not be combined with `attn_mask` (torch refuses that too);
    - `scale`: the softmax scale, default 1/√E;
    - `enable_gqa`: Hq a multiple of Hkv, query head h reading key/value head h // (Hq/Hkv);
      without it the head counts must be equal;
    - `dropout_p` other than 0 is refused: the emulator is deterministic.

    A row whose every key is masked gets output 0 (the emulator's rule). Returns a tensor of the
    query's dtype on its device."""
    function = "scaled_dot_product_attention"
    q4, k4, v4 = (_four_d(function, n, x) for n, x in (("query", query), ("key", key), ("value", value)))
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or dropout_p != 0:
        raise ValueError(f"{function}: dropout_p must be 0 (the emulation is deterministic), got {_validate.shown(dropout_p)}")
    causal = _validate.flag(function, "is_causal", is_causal)
    gqa = _validate.flag(function, "enable_gqa", enable_gqa)
    if causal and attn_mask is not None:
        raise ValueError(f"{function}: an explicit attn_mask may not be combined with is_causal=True")
    b, hq, n_q, e = q4.shape
    if k4.shape[0] != b or v4.shape[0] != b or k4.shape[1] != v4.shape[1] or k4.shape[2] != v4.shape[2] or k4.shape[3] != e:
        raise ValueError(f"{function}: shapes do not match: query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}")
    if v4.shape[3] != e:
        raise ValueError(f"{function}: value's head dim {v4.shape[3]} differs from the query's {e}; the emulator needs them equal")
    hkv = k4.shape[1]
    if hq != hkv and not (gqa and hkv > 0 and hq % hkv == 0):
        why = "a multiple of" if gqa else "equal to (or pass enable_gqa=True for a multiple of)"
        raise ValueError(f"{function}: query heads {hq} must be {why} key/value heads {hkv}")
    softmax_scale = 1 / math.sqrt(e) if scale is None else _validate.real(function, "scale", scale)
    full = (b, hq, n_q, k4.shape[2])
    mask = _mask(function, attn_mask, full)
    values = [x.detach().to("cpu", torch.float64).transpose(1, 2).contiguous().numpy() for x in (q4, k4, v4)]
    out = emulation.attention(*values, scheme=scheme, algorithm=algorithm, causal=causal, softmax_scale=softmax_scale,
                              seed=seed, threads=threads, mask=None if mask is None else mask.numpy(), alignment="top-left")
    o = torch.from_numpy(out).transpose(1, 2)
    if query.dim() == 3:
        o = o.squeeze(0)
    return o.to(dtype=query.dtype, device=query.device).contiguous()
