"""A Hugging Face attention implementation that runs emulated: after
`register_transformers(scheme=...)`, a model loaded or built with
`attn_implementation="emulated"` computes every attention with the emulator. (transformers
takes any implementation name containing "flash" for a FlashAttention kernel, so the name
avoids that word.)
"""
from __future__ import annotations

from .. import _validate
from .functional import scaled_dot_product_attention


def register_transformers(name: str = "emulated", scheme: str = "fp32", algorithm: str | None = "blocked",
                          seed: int = 0, threads: int | None = None) -> str:
    """Registers the emulated attention under `name` with `transformers.AttentionInterface` and
    returns the name. Follows the "sdpa" implementation's rules: the model's 4-D mask as
    `attn_mask`, else top-left causal for causal modules with more than one query; key/value heads
    shared by query heads as GQA. Needs transformers ≥ 4.53 (ImportError otherwise)."""
    function = "register_transformers"
    _validate.text(function, "name", name)
    if "flash" in name:
        raise ValueError(f"{function}: name {_validate.shown(name)} contains 'flash', which transformers reserves for FlashAttention kernels")
    _validate.text(function, "scheme", scheme)
    try:
        from transformers import AttentionInterface, AttentionMaskInterface
        from transformers.masking_utils import sdpa_mask
    except ImportError as error:
        raise ImportError(f"{function}: needs transformers >= 4.53 (pip install transformers)") from error

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        mask = attention_mask
        if mask is not None and mask.dim() == 4:
            mask = mask[:, :, :, : key.shape[-2]]
        causal = mask is None and query.shape[2] > 1 and bool(getattr(module, "is_causal", True))
        out = scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=causal, scale=scaling,
                                           enable_gqa=query.shape[1] != key.shape[1], scheme=scheme, algorithm=algorithm,
                                           seed=seed, threads=threads)
        return out.transpose(1, 2).contiguous(), None

    AttentionInterface.register(name, attention)
    AttentionMaskInterface.register(name, sdpa_mask)   # the masks "sdpa" gets (boolean, or None when causal alone)
    return name
