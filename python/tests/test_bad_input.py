"""Bad input raises ValueError/TypeError with one line; nothing crashes the interpreter."""
import ml_dtypes
import numpy as np
import pytest

import flashnumerics as fn


def one_line(excinfo):
    text = str(excinfo.value)
    assert text and "\n" not in text
    return text


def bf16(shape):
    return np.zeros(shape, dtype=ml_dtypes.bfloat16)


@pytest.mark.parametrize("call,kind,says", [
    (lambda: fn.convert([1.0], "e9m9"), ValueError, "unknown format 'e9m9'"),
    (lambda: fn.convert([1.0], "e4m3fn", rounding="sideways"), ValueError, "sideways"),
    (lambda: fn.convert([1.0], "e4m3fn", overflow="infinity"), ValueError, "has no infinity"),
    (lambda: fn.convert([1.0], "e4m3fn", rounding="stochastic"), ValueError, "seed"),
    (lambda: fn.convert([1.0], "e4m3fn", rounding="stochastic", seed=1, random_bits=40), ValueError, "1...32"),
    (lambda: fn.convert([np.nan], "e2m1", overflow="saturate"), ValueError, "has no NaN"),
    (lambda: fn.convert(["a"], "e4m3fn"), TypeError, "expected numbers"),
    (lambda: fn.convert([1.0], "e4m3fn", threads=0), ValueError, "threads"),
    (lambda: fn.decode(np.array([0x1F], dtype=np.uint8), "e2m1"), ValueError, "bits"),
    (lambda: fn.decode(np.array([1], dtype=np.uint8)), TypeError, "format"),
    (lambda: fn.flash_attn_func(np.zeros((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64))), TypeError, "bfloat16"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 5, 1, 64)), bf16((1, 4, 1, 64))), ValueError, "shapes do not match"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 20)), bf16((1, 4, 1, 20)), bf16((1, 4, 1, 20))), ValueError, "head dim"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 3, 64)), bf16((1, 4, 2, 64)), bf16((1, 4, 2, 64))), ValueError, "multiple"),
    (lambda: fn.flash_attn_func(bf16((4, 64)), bf16((4, 64)), bf16((4, 64))), ValueError, "4-D"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), softmax_scale=0.0), ValueError, "softmax_scale must be > 0"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), softcap=-30.0), ValueError, "softcap must be in [0.0, inf]"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), softcap="x"), TypeError, "softcap must be a number"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), softcap="3"), TypeError, "softcap must be a number"),
    (lambda: fn.flash_attn_varlen_func(bf16((4, 1, 64)), bf16((4, 1, 64)), bf16((4, 1, 64)), [0, 4], [0, 4], softcap=float("nan")), ValueError, "softcap"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), num_splits=-1), ValueError, "num_splits must be in 0...256"),
    (lambda: fn.flash_attn_func(bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), bf16((1, 4, 1, 64)), num_splits=300), ValueError, "num_splits"),
    (lambda: fn.flash_attn_with_kvcache(bf16((2, 1, 1, 64)), bf16((2, 8, 1, 64)), bf16((2, 8, 1, 64)), cache_seqlens=[3, 9]), ValueError, "cache length"),
    (lambda: fn.flash_attn_with_kvcache(bf16((2, 1, 1, 64)), bf16((2, 8, 1, 64)), bf16((2, 8, 1, 64)), cache_seqlens=[3]), ValueError, "(batch,)"),
    (lambda: fn.flash_attn_with_kvcache(bf16((2, 1, 1, 64)), bf16((2, 8, 1, 64)), bf16((2, 8, 1, 64)), cache_seqlens=[1.5, 2.0]), TypeError, "integers"),
    (lambda: fn.flash_attn_with_kvcache(bf16((1, 1, 1, 64)), bf16((1, 8, 1, 64)), bf16((1, 8, 1, 64)), page_table=np.zeros((1, 1))), ValueError, "page_table"),
    (lambda: fn.flash_attn_func(*(np.zeros((1, 4, 1, 64), dtype=ml_dtypes.float8_e4m3fn),) * 3, q_descale=np.zeros((1, 1), np.float32)),
     ValueError, "descale"),
    (lambda: fn.flash_attn_func(*(np.zeros((1, 4, 1, 64), dtype=ml_dtypes.float8_e4m3fn),) * 3, q_descale=np.ones((2, 1), np.float32)),
     ValueError, "(batch, kv_heads)"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), scheme="fp7"), ValueError, "fp7"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), algorithm="fast"), ValueError, "fast"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), window=(-5, None)), ValueError, "window"),
    (lambda: fn.attention(np.zeros((1, 0, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16))), ValueError, "at least 1"),
    (lambda: fn.reference(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), precision_bits=8), ValueError, "24...8192"),
    (lambda: fn.reference(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), softmax_scale=float("inf")), ValueError, "softmax_scale must be finite"),
    (lambda: fn.table_paper_rmse(seq_len=0), ValueError, "seq_len must be in 1..."),
    # Seeds reach the C ABI as uint64: never wrapped, rounded or parsed from text.
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), seed=-1), ValueError, "seed must be in 0...2^64-1"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), seed=2**64), ValueError, "seed"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), seed=1.5), TypeError, "seed must be an integer"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), seed=float("nan")), TypeError, "seed"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), np.zeros((1, 4, 1, 16)), seed="1"), TypeError, "seed"),
    (lambda: fn.table_paper_rmse(seq_len=16, head_dim=16, seed=-1), ValueError, "seed"),
    (lambda: fn.fa3_case_inputs("bf16", 64, 8, 8, seed=2**64), ValueError, "seed"),
    (lambda: fn.convert(np.zeros(4, np.float32), "e4m3fn", rounding="stochastic", seed=-3, random_bits=8), ValueError, "seed"),
    (lambda: fn.flash_attn_varlen_func(bf16((4, 1, 64)), bf16((4, 1, 64)), bf16((4, 1, 64)), [0, 4], [0, 4], max_seqlen_q=-1),
     ValueError, "max_seqlen_q must be in 0..."),
    (lambda: fn.flash_attn_varlen_func(bf16((4, 1, 64)), bf16((4, 1, 64)), bf16((4, 1, 64)), [0, 4], [0, 5]), ValueError, "total_k"),
    (lambda: fn.table_paper_rmse(seq_len=64, head_dim=64, reference_bits=8), ValueError, "24...8192"),
    (lambda: fn.table_paper_rmse(seq_len=64, head_dim=64, reference_bits=0), ValueError, "24...8192"),
    (lambda: fn.table_paper_rmse(seq_len=64, head_dim=64, reference_bits="mpfr"), ValueError, "double-word"),
    (lambda: fn.table_paper_rmse(seq_len=64, head_dim=64, heads=-1), ValueError, "heads"),
    (lambda: fn.table_paper_rmse(seq_len=64, head_dim=64, threads=0), ValueError, "threads"),
    (lambda: fn.metrics(np.zeros(3), np.zeros(4)), ValueError, "shape"),
    (lambda: fn.metrics(np.zeros(3), np.zeros(3), format="e9m9"), ValueError, "e9m9"),
    (lambda: fn.mma("tf32", np.zeros((1, 64, 32), np.uint8), np.zeros((1, 8, 32), np.uint8), np.zeros((1, 64, 8), np.uint32)), ValueError, "tf32"),
    (lambda: fn.mma("wgmma-e4m3-e4m3-k32", np.zeros((1, 64, 16), np.uint8), np.zeros((1, 8, 16), np.uint8), np.zeros((1, 64, 8), np.uint32)),
     ValueError, "multiple"),
    (lambda: fn.mma("wgmma-e4m3-e4m3-k32", np.full((1, 64, 32), 300, np.uint16), np.zeros((1, 8, 32), np.uint8), np.zeros((1, 64, 8), np.uint32)),
     ValueError, "wider"),
    (lambda: fn.mufu("sin", [1.0]), ValueError, "sin"),
    (lambda: fn.fa3_case_inputs("e5m2", 64, 16), ValueError, "e5m2"),
    (lambda: fn.fa3_case_inputs("bf16", 64, 2**40), ValueError, "limit"),
    (lambda: fn.fa3_case_inputs("bf16", 64, 16, distribution="cauchy"), ValueError, "cauchy"),
])
def test_bad_input_raises_one_line(call, kind, says):
    with pytest.raises(kind) as excinfo:
        call()
    assert says in one_line(excinfo)


def test_header_lists_exactly_the_exported_functions(repository):
    import re
    import shutil
    import subprocess
    from flashnumerics import _native
    header = (repository / "Sources" / "CFlashNumericsABI" / "flashnumerics.h").read_text()
    assert header == _native.HEADER.read_text(), "the installed header is not the repository's"
    declared = set(re.findall(r"\b(fn_[a-z0-9_]+)\(", header))
    assert declared == set(_native.FUNCTIONS)
    implemented = set()
    for source in (repository / "Sources" / "FlashNumericsC").glob("*.swift"):
        implemented |= set(re.findall(r'@_cdecl\("(fn_[a-z0-9_]+)"\)', source.read_text()))
    assert implemented == declared
    assert shutil.which("nm"), "nm (binutils) is needed to list the library's symbols"
    symbols = subprocess.run(["nm", "-D", "--defined-only", _native.lib._name], capture_output=True, text=True, check=True).stdout
    exported = set(re.findall(r"\b(fn_[a-z0-9_]+)$", symbols, flags=re.M))
    assert declared <= exported


def test_binding_layout_equals_the_compiled_structs():
    """The structs Python reads from the header have the sizes and field offsets the Swift
    library was compiled with; a header with two fields swapped would not."""
    import ctypes
    import json
    from flashnumerics import _native
    reported, types = _native._reported_layouts()
    assert set(reported) == set(_native.STRUCTS) and len(reported) >= 9
    for name, structure in _native.STRUCTS.items():
        assert _native.layout(structure) == reported[name], name
        for field, ctype in structure._fields_:
            assert types[name][field] in _native._swift_types(ctype), (name, field, types[name][field])
    # A field read as another type of the same size (uint64 for int64) is caught by its type.
    assert types["fn_attention_args"]["rotation_seed"] == "UInt64"
    assert "UInt64" not in _native._swift_types(ctypes.c_int64)
    swapped = _native.HEADER.read_text().replace("  int32_t causal;\n  double softmax_scale;", "  double softmax_scale;\n  int32_t causal;", 1)
    assert swapped != _native.HEADER.read_text()
    structs, _ = _native.parse_header(swapped)
    assert _native.layout(structs["fn_kernel_args"]) != reported["fn_kernel_args"]
    assert ctypes.sizeof(structs["fn_shape"]) == 7 * 8


def test_struct_fields_are_all_named():
    from flashnumerics import _native
    with pytest.raises(TypeError, match="missing fields"):
        _native.make("fn_table_args", batch=1, seq_len=1, heads=1, head_dim=1, seed=0, reference_bits=0)
    with pytest.raises(TypeError, match="unknown fields"):
        _native.make("fn_table_args", batch=1, seq_len=1, heads=1, head_dim=1, seed=0, reference_bits=0, threads=1, thread=1)
    with pytest.raises(ValueError, match="threads"):
        _native.make("fn_table_args", batch=1, seq_len=1, heads=1, head_dim=1, seed=0, reference_bits=0, threads=2**31)

def test_renamed_names_name_the_new_ones():
    # 'fa3' names the FA3 kernel only: the paper's table has a name of its own.
    from flashnumerics import table_fa3
    from flashnumerics.measurement import table_fa3 as from_module
    for old in (fn.table_fa3, table_fa3, from_module):
        with pytest.raises(AttributeError, match=r"flashnumerics.table_fa3 is now flashnumerics.table_paper_rmse"):
            old(seq_len=64)
    assert "table_fa3" not in fn.__all__
