"""The FA3 kernel's twin: the committed real-kernel outputs (H100) replayed bit for bit through
`flashnumerics.flash_attn_func` on ml_dtypes arrays."""
import json

import ml_dtypes
import numpy as np
import pytest

import flashnumerics as fn


def fixture_dirs(repository):
    root = repository / "Tests" / "AttentionTests" / "Fixtures" / "fa3-kernel"
    return sorted(p for p in root.iterdir() if (p / "case.json").exists())


def test_committed_kernel_outputs_bit_for_bit(repository):
    dirs = fixture_dirs(repository)
    assert len(dirs) >= 6
    for d in dirs:
        case = json.loads((d / "case.json").read_text())
        inputs = fn.fa3_case_inputs(**case)
        descales = {k: inputs[k] for k in ("q_descale", "k_descale", "v_descale") if k in inputs}
        out, lse = fn.flash_attn_func(inputs["q"], inputs["k"], inputs["v"], causal=case.get("causal", False),
                                      return_attn_probs=True, threads=2, **descales)
        kernel_o, kernel_lse = np.load(d / "o.npy"), np.load(d / "lse.npy")
        assert out.dtype == np.dtype(ml_dtypes.bfloat16)
        assert np.array_equal(out.view(np.uint16), kernel_o), d.name
        assert np.array_equal(lse.view(np.uint32), kernel_lse.view(np.uint32)), d.name


def test_thread_count_changes_no_bit():
    inputs = fn.fa3_case_inputs("bf16", 64, 150, 170, heads=4, kv_heads=2, causal=True, seed=5)
    a = fn.flash_attn_func(inputs["q"], inputs["k"], inputs["v"], causal=True, threads=1)
    b = fn.flash_attn_func(inputs["q"], inputs["k"], inputs["v"], causal=True, threads=3)
    assert np.array_equal(a.view(np.uint16), b.view(np.uint16))


def test_close_to_the_reference():
    inputs = fn.fa3_case_inputs("bf16", 64, 64, seed=2, distribution="gaussian")
    out = fn.flash_attn_func(inputs["q"], inputs["k"], inputs["v"]).astype(np.float64)
    ref, bits = fn.reference(*(inputs[x].astype(np.float64) for x in "qkv"), precision_bits=128)
    assert bits >= 53
    m = fn.metrics(out, ref, format="bf16")
    assert m["rmse"] < 0.01 and m["max_ulp"] >= 0  # ULPs near zero cross binades: only their presence is checked
