"""FlashNumerics inside PyTorch models (needs torch; import `flashnumerics.torch`).

- `scaled_dot_product_attention`: torch's function, signature and semantics (masks, top-left
  `is_causal`, GQA, scale), computed by the emulator with any scheme and algorithm;
- `emulate(scheme, algorithm)`: every `F.scaled_dot_product_attention` call of a model runs
  emulated within the block; `register_transformers()` adds the same as a Hugging Face attention
  implementation;
- `capture(path, model)`: records each call's q, k, v, mask and output into a safetensors file
  (`read_capture` reads it; `flashnum attention --capture` and experiment files take it too);
- `compare(model, tokens, scheme)` and `write_report`: per-layer error and the logits' KL
  divergence, top-1 agreement and perplexity, with a figure;
- `example.TinyGQATransformer`: a small causal GQA transformer built in code.
"""
try:
    import torch as _torch  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("flashnumerics.torch needs PyTorch: pip install torch") from error

from .functional import scaled_dot_product_attention
from .hooks import capture, emulate, read_capture
from .model_error import compare, write_report
from .transformers import register_transformers

__all__ = ["scaled_dot_product_attention", "emulate", "capture", "read_capture", "compare", "write_report",
           "register_transformers"]
