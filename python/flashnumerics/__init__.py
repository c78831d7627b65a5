"""FlashNumerics from Python: emulated low-precision formats, the FlashAttention-3 forward kernel
bit for bit on the CPU, emulated attention schemes, the certified MPFR reference, error metrics.

Arrays are NumPy arrays (ml_dtypes' bfloat16/float8 types included) or PyTorch tensors (read
from their CPU copy); results come back as the same kind. Computation runs in the bundled
Swift library with the GIL released; `threads` (default: all cores) never changes a result.
Bad input raises TypeError (a wrong type) or ValueError (a wrong value) naming the function and
the argument, before anything is copied; sizes are checked against the tensor limit
(FLASHNUM_MAX_TENSOR_ELEMENTS) first.

Modules: `conversion` (formats, convert, decode), `fa3` (the kernel's twins), `emulation`
(attention), `measurement` (reference, metrics, attribute, table_paper_rmse), `hopper` (mma, mufu).
"""
from ._native import lib, limits
from .conversion import convert, decode, formats
from .emulation import attention
from .fa3 import HOPPER_SM_COUNT, fa3_case_inputs, flash_attn_func, flash_attn_varlen_func, flash_attn_with_kvcache
from .hopper import mma, mufu
from .measurement import attribute, metrics, reference, table_fa3, table_paper_rmse

__all__ = ["__version__", "formats", "convert", "decode", "flash_attn_func", "flash_attn_with_kvcache",
           "flash_attn_varlen_func", "attention", "reference", "metrics", "attribute", "table_paper_rmse", "mma", "mufu",
           "fa3_case_inputs", "limits", "HOPPER_SM_COUNT"]

__version__ = lib.fn_version().decode()
