"""The Python API holds the command line's standard on hostile input: every argument is checked
(TypeError for a wrong type, ValueError for a wrong value, the argument named), sizes before any
copy, limit variables as the CLI reads them; and a bounded fuzz over every entry point raises
nothing else."""
import os
import random
import resource
import subprocess
import sys
import time

import ml_dtypes
import numpy as np
import pytest

import flashnumerics as fn


def bf16(shape):
    return np.zeros(shape, dtype=ml_dtypes.bfloat16)


def values(shape=(1, 4, 1, 16)):
    return np.zeros(shape)


Q = values()
B = bf16((1, 4, 1, 64))
V3 = bf16((4, 1, 64))


@pytest.mark.parametrize("call,kind,names", [
    # softmax_scale: NaN and 0 are not "the default"; float32 overflow is refused.
    (lambda: fn.attention(Q, Q, Q, softmax_scale=float("nan")), ValueError, "softmax_scale"),
    (lambda: fn.flash_attn_func(B, B, B, softmax_scale=float("nan")), ValueError, "softmax_scale"),
    (lambda: fn.reference(Q, Q, Q, softmax_scale=0), ValueError, "softmax_scale"),
    (lambda: fn.attention(Q, Q, Q, softmax_scale=1e39), ValueError, "softmax_scale"),
    (lambda: fn.attention(Q, Q, Q, softmax_scale="0.1"), TypeError, "softmax_scale"),
    # Seeds, never wrapped.
    (lambda: fn.attention(Q, Q, Q, seed=-1), ValueError, "seed"),
    (lambda: fn.attribute(Q, Q, Q, "fp16", seed=-(2**63)), ValueError, "seed"),
    (lambda: fn.convert([1.0], "e4m3fn", rounding="stochastic", seed=2**64, random_bits=8), ValueError, "seed"),
    # Windows and lengths beyond int64 or the tensor limit.
    (lambda: fn.attention(Q, Q, Q, window=(2**63, None)), ValueError, "window[0]"),
    (lambda: fn.attention(Q, Q, Q, window=(None, 2**64)), ValueError, "window[1]"),
    (lambda: fn.attention(Q, Q, Q, window=(1.5, None)), TypeError, "window[0]"),
    (lambda: fn.attention(Q, Q, Q, window=5), TypeError, "window"),
    (lambda: fn.flash_attn_varlen_func(V3, V3, V3, [0, 4], [0, 4], max_seqlen_q=2**63), ValueError, "max_seqlen_q"),
    (lambda: fn.flash_attn_varlen_func(V3, V3, V3, [0, 4], [0, 4], max_seqlen_k=2**64), ValueError, "max_seqlen_k"),
    (lambda: fn.flash_attn_varlen_func(V3, V3, V3, [0, 2**40], [0, 4]), ValueError, "cu_seqlens_q"),
    # Integer widths: truncation to int32 is refused.
    (lambda: fn.reference(Q, Q, Q, precision_bits=2**40 + 128), ValueError, "precision_bits"),
    (lambda: fn.reference(Q, Q, Q, precision_bits=128.0), TypeError, "precision_bits"),
    (lambda: fn.attention(Q, Q, Q, threads=2**32 + 1), ValueError, "threads"),
    (lambda: fn.flash_attn_func(B, B, B, num_splits=2**32 + 1), ValueError, "num_splits"),
    (lambda: fn.flash_attn_func(B, B, B, num_sms=2**31), ValueError, "num_sms"),
    (lambda: fn.flash_attn_func(B, B, B, sm_margin=200), ValueError, "num_sms - sm_margin"),
    (lambda: fn.table_paper_rmse(seq_len=2**63), ValueError, "seq_len"),
    (lambda: fn.table_paper_rmse(seq_len=True), TypeError, "seq_len"),
    (lambda: fn.fa3_case_inputs("bf16", 64, 8, nan_codes=-1), ValueError, "nan_codes"),
    # float32 overflow of float arguments.
    (lambda: fn.flash_attn_func(B, B, B, softcap=1e39), ValueError, "softcap"),
    (lambda: fn.flash_attn_func(B, B, B, softcap=float("inf")), ValueError, "softcap"),
    (lambda: fn.flash_attn_func(B, B, B, softcap=None), TypeError, "softcap"),
    # Flags and names.
    (lambda: fn.attention(Q, Q, Q, causal="yes"), TypeError, "causal"),
    (lambda: fn.attention(Q, Q, Q, causal=2), TypeError, "causal"),
    (lambda: fn.attention(Q, Q, Q, scheme=None), TypeError, "scheme"),
    (lambda: fn.attention(Q, Q, Q, scheme="fp16\0x"), ValueError, "scheme"),
    (lambda: fn.convert([1.0], 7), TypeError, "format"),
    (lambda: fn.flash_attn_func(B, B, B, schedule={"a;b": 1}), ValueError, "schedule"),
    (lambda: fn.flash_attn_func(B, B, B, schedule={3: 1}), TypeError, "schedule"),
    (lambda: fn.flash_attn_func(B, B, B, window_size=None), TypeError, "window_size"),
    # Arrays of the wrong kind.
    (lambda: fn.attention("q", Q, Q), TypeError, "q"),
    (lambda: fn.attention(Q, None, Q), TypeError, "k"),
    (lambda: fn.attention(np.zeros((1, 4, 1, 16), complex), Q, Q), TypeError, "q"),
    (lambda: fn.metrics(np.zeros(3), {"a": 1}), TypeError, "ref"),
])
def test_hostile_argument_is_named(call, kind, names):
    with pytest.raises(kind) as excinfo:
        call()
    text = str(excinfo.value)
    assert "\n" not in text and names in text, text


def test_broadcast_views_are_refused_before_any_copy():
    """A broadcast view of 2^29 elements (8 bytes in memory) is refused on its metadata: the
    process does not grow by the 4 GiB a copy would take, and the refusal is immediate."""
    huge = np.broadcast_to(np.float64(1.0), (1, 2**29, 1, 1))
    codes = np.broadcast_to(np.zeros((), dtype=ml_dtypes.bfloat16), (1, 2**29, 1, 64))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    for call in (lambda: fn.attention(huge, huge, huge), lambda: fn.reference(huge, huge, huge),
                 lambda: fn.convert(huge, "e4m3fn"), lambda: fn.metrics(huge, huge),
                 lambda: fn.flash_attn_func(codes, codes, codes), lambda: fn.decode(codes)):
        with pytest.raises(ValueError, match="FLASHNUM_MAX_TENSOR_ELEMENTS"):
            call()
    assert time.monotonic() - start < 1.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200 * 1024, f"grew by {grown_kib} KiB"


def _python(code, **environment):
    env = dict(os.environ, **environment)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("variable", ["FLASHNUM_MAX_TENSOR_ELEMENTS", "FLASHNUM_MAX_GRID_POINTS"])
@pytest.mark.parametrize("value", ["abc", "0", "-5", "9223372036854775808", "1e6"])
def test_malformed_limit_variables_fail_as_in_the_cli(variable, value):
    """A malformed limit variable is refused by the library, with the command line's message,
    instead of falling back to a default."""
    code = ("import numpy as np, flashnumerics as fn\n"
            "try:\n    fn.attention(np.zeros((1, 4, 1, 8)), np.zeros((1, 4, 1, 8)), np.zeros((1, 4, 1, 8)))\n"
            "except ValueError as e:\n    print('ValueError:', e)\n")
    r = _python(code, **{variable: value})
    assert r.returncode == 0, r.stderr
    assert f"ValueError: {variable}='{value}': expected a positive integer" in r.stdout, r.stdout
    r = _python("import flashnumerics as fn\ntry:\n    fn.limits()\nexcept ValueError as e:\n    print('ValueError:', e)\n", **{variable: value})
    assert f"{variable}='{value}'" in r.stdout


def test_limits_follow_the_variables():
    r = _python("import flashnumerics as fn; print(fn.limits())", FLASHNUM_MAX_TENSOR_ELEMENTS="9223372036854775807")
    assert "'tensor_elements': 9223372036854775807" in r.stdout, r.stderr
    r = _python("import numpy as np, flashnumerics as fn\n"
                "try:\n    fn.attention(np.zeros((1, 4, 1, 8)), np.zeros((1, 4, 1, 8)), np.zeros((1, 4, 1, 8)))\n"
                "except ValueError as e:\n    print('ValueError:', e)\n", FLASHNUM_MAX_TENSOR_ELEMENTS="16")
    assert "more than the limit of 16" in r.stdout, r.stdout + r.stderr


def test_codes_and_names_are_never_wrapped_or_split():
    with pytest.raises(ValueError, match="wider than 32 bits"):
        fn.decode(np.array([2**32 + 1], np.uint64), "bf16")
    with pytest.raises(ValueError, match="wider than 32 bits"):
        fn.mma("wgmma-e4m3-e4m3-k32", np.full((1, 64, 32), 2**32 + 1, np.uint64), np.zeros((1, 8, 32), np.uint8), np.zeros((1, 64, 8), np.uint32))
    for call in (lambda: fn.convert([1.0], "bf16", rounding="a\nb"), lambda: fn.attention(Q, Q, Q, scheme="a\nb"),
                 lambda: fn.flash_attn_func(B, B, B, schedule={"rescaleThreshold": "4\n5"}), lambda: fn.mufu("a\r\nb", [1.0]),
                 lambda: fn.fa3_case_inputs("bf16", 64, 4, distribution="a\u2028b")):
        with pytest.raises(ValueError) as excinfo:
            call()
        assert "\n" not in str(excinfo.value) and "\r" not in str(excinfo.value) and "\u2028" not in str(excinfo.value), str(excinfo.value)
    # Defaults given as None keep meaning the default.
    assert np.array_equal(fn.convert([1.5], "e4m3fn", rounding=None, codes=True), fn.convert([1.5], "e4m3fn", codes=True))
    assert np.array_equal(fn.attention(Q, Q, Q, algorithm=None), fn.attention(Q, Q, Q))
    with pytest.raises(ValueError, match="softcap must be finite"):
        fn.flash_attn_func(B, B, B, softcap=10**400)


# A bounded fuzz over every entry point: hostile values for one argument at a time, from a fixed
# seed; only TypeError and ValueError (or a normal return) may come out.
HOSTILE = [None, True, -1, 0, 2**31, 2**63, 2**64, -2**63 - 1, 10**400, float("nan"), float("inf"), -0.0, 1e39, 1e-320, "x", "", "\0", b"1",
           "a\nb", "a\r\nb", "x\u2028y", np.array([2**33 + 3], np.uint64),
           (1,), [1, 2, 3], {"a": 1}, object(), np.int64(-5), np.float32("nan"), np.zeros((0,)), np.zeros((2, 2)),
           np.broadcast_to(np.float64(0), (2**30,))]

ENTRY_POINTS = {
    "convert": (fn.convert, dict(x=[1.0, 2.0], format="e4m3fn")),
    "decode": (fn.decode, dict(x=np.array([1, 2], np.uint8), format="e4m3fn")),
    "attention": (fn.attention, dict(q=Q, k=Q, v=Q, scheme="fp16", algorithm="naive", causal=False, window=(None, None),
                                     softmax_scale=None, seed=0, threads=1)),
    "reference": (fn.reference, dict(q=Q, k=Q, v=Q, precision_bits=64, causal=False, window=(None, None), softmax_scale=None, threads=1)),
    "attribute": (fn.attribute, dict(q=Q, k=Q, v=Q, scheme="fp16", algorithm="naive", seed=0, precision_bits=64, threads=1)),
    "metrics": (fn.metrics, dict(out=np.zeros(3), ref=np.ones(3), format="bf16")),
    "flash_attn_func": (fn.flash_attn_func, dict(q=B, k=B, v=B, softmax_scale=None, causal=False, softcap=0.0, num_splits=1,
                                                 return_attn_probs=False, threads=1)),
    "flash_attn_with_kvcache": (fn.flash_attn_with_kvcache, dict(q=B, k_cache=B, v_cache=B, cache_seqlens=None, num_splits=0, threads=1)),
    "flash_attn_varlen_func": (fn.flash_attn_varlen_func, dict(q=V3, k=V3, v=V3, cu_seqlens_q=[0, 4], cu_seqlens_k=[0, 4],
                                                               max_seqlen_q=None, softcap=0.0, threads=1)),
    "mma": (fn.mma, dict(instruction="wgmma-e4m3-e4m3-k32", a=np.zeros((1, 64, 32), np.uint8), b=np.zeros((1, 8, 32), np.uint8),
                         c=np.zeros((1, 64, 8), np.uint32))),
    "mufu": (fn.mufu, dict(function="ex2", x=[1.0])),
    "fa3_case_inputs": (fn.fa3_case_inputs, dict(element="bf16", head_dim=64, seq_len_q=4, seed=0, nan_codes=0)),
    "table_paper_rmse": (fn.table_paper_rmse, dict(seq_len=16, head_dim=16, reference_bits=None, seed=0, threads=1)),
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_fuzz_entry_point(name):
    function, good = ENTRY_POINTS[name]
    function(**good)  # the baseline call works
    rng = random.Random(f"flashnumerics-fuzz-{name}")
    deadline = time.monotonic() + 3.0
    tried = 0
    cases = [(argument, value) for argument in good for value in HOSTILE]
    rng.shuffle(cases)
    for argument, value in cases:
        if time.monotonic() > deadline:
            break
        try:
            function(**dict(good, **{argument: value}))
        except (TypeError, ValueError) as e:
            text = str(e)
            assert text and not any(c in text for c in "\n\r\u2028\u2029"), (argument, value, text)
        tried += 1
    assert tried >= min(len(cases), 100), f"only {tried} of {len(cases)} cases ran within the time bound"
