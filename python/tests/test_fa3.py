"""The FA3 kernel's twins: the committed real-kernel outputs (H100, H200) replayed bit for bit through
`flashnumerics.flash_attn_func`, `flash_attn_with_kvcache` and `flash_attn_varlen_func` on ml_dtypes arrays."""
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
        common = dict(causal=case.get("causal", False), num_splits=inputs["num_splits"], softcap=inputs["softcap"], threads=2,
                      **descales)
        if inputs["cache_seqlens"] is not None:
            out, lse = fn.flash_attn_with_kvcache(inputs["q"], inputs["k"], inputs["v"], cache_seqlens=inputs["cache_seqlens"],
                                                  return_softmax_lse=True, **common)
        else:
            out, lse = fn.flash_attn_func(inputs["q"], inputs["k"], inputs["v"], return_attn_probs=True, **common)
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


def surface_fixtures(repository):
    root = repository / "python" / "tests" / "fixtures" / "fa3-surface"
    return sorted(root.glob("*.npz")) if root.exists() else []


def test_committed_split_cache_varlen_and_nan_outputs_bit_for_bit(repository):
    """Kernel outputs of the other paths with their inputs stored (Scripts/fa3_surface_twin.py --fixtures on
    an H200): split-KV, NaN and Inf inputs (Inf in V under a causal mask: 0 · Inf in a masked block of the
    tile is NaN), V's own head dim and varlen (which crosscheck cases cannot express)."""
    files = surface_fixtures(repository)
    paths = {json.loads(str(np.load(f)["meta"]))["path"] for f in files}
    assert {"split-explicit", "nan", "inf", "head-dim-v", "varlen", "softcap", "softcap-varlen", "kvcache-batch-idx"} <= paths  # the other paths: crosscheck fixtures above
    for f in files:
        data = np.load(f)
        case = json.loads(str(data["meta"]))
        dtype = ml_dtypes.float8_e4m3fn if case["element"] == "e4m3fn" else ml_dtypes.bfloat16
        q, k, v = (data[x].view(dtype) for x in "qkv")
        descales = {name: data[name] for name in ("q_descale", "k_descale", "v_descale") if name in data}
        common = dict(causal=case["causal"], num_splits=case["num_splits"], softcap=case.get("softcap", 0.0), threads=2, **descales)
        if "seqlens_q" in case:
            cu = [np.concatenate([[0], np.cumsum(case[n])]).astype(np.int32) for n in ("seqlens_q", "seqlens_k")]
            out, lse = fn.flash_attn_varlen_func(q, k, v, cu[0], cu[1], max(case["seqlens_q"]), max(case["seqlens_k"]),
                                                 return_attn_probs=True, **common)
        elif "cache_seqlens" in case or "cache_batch_idx" in case:
            lens = np.array(case["cache_seqlens"], np.int32) if "cache_seqlens" in case else None
            index = np.array(case["cache_batch_idx"], np.int32) if "cache_batch_idx" in case else None
            out, lse = fn.flash_attn_with_kvcache(q, k, v, cache_seqlens=lens, cache_batch_idx=index, return_softmax_lse=True, **common)
        else:
            out, lse = fn.flash_attn_func(q, k, v, return_attn_probs=True, **common)
        assert np.array_equal(out.view(np.uint16), data["o"].view(np.uint16)), f.name
        assert np.array_equal(lse.view(np.uint32), data["lse"].view(np.uint32)), f.name


def test_schedule_what_ifs():
    """A stale maximum (FA4's threshold 4 with offset 8) makes e4m3 P worse than e5m2 P on logits of
    std 2; threshold 0 gives the kernel's bits; bad parameters raise."""
    inputs = fn.fa3_case_inputs("e4m3fn", 64, 128, 640, heads=2, distribution="gaussian", seed=4)
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    descales = {x: inputs[x] for x in ("q_descale", "k_descale", "v_descale")}
    scale = 2 / 8.0
    # kv_heads = heads here, so each descale (batch, kv_heads) applies to its head directly.
    values = [a.astype(np.float64) * inputs[n + "_descale"].reshape(1, 1, -1, 1) for n, a in (("q", q), ("k", k), ("v", v))]
    ref, _ = fn.reference(*values, precision_bits=64, softmax_scale=scale)

    def error(**schedule):
        out = fn.flash_attn_func(q, k, v, softmax_scale=scale, schedule=schedule, threads=2, **descales).astype(np.float64)
        return np.linalg.norm(out - ref) / np.linalg.norm(ref)

    assert error(rescaleThreshold=4) > 2 * error(rescaleThreshold=4, fp8ProbabilityFormat="e5m2")
    assert error(rescaleThreshold=0.75) < error(rescaleThreshold=0.75, fp8ProbabilityFormat="e5m2")
    plain = fn.flash_attn_func(q, k, v, softmax_scale=scale, **descales)
    same = fn.flash_attn_func(q, k, v, softmax_scale=scale, schedule={"rescaleThreshold": 0}, **descales)
    assert np.array_equal(plain.view(np.uint16), same.view(np.uint16))
    with pytest.raises(ValueError, match="rescaleThreshold"):
        fn.flash_attn_func(q, k, v, schedule={"rescaleThreshold": -1}, **descales)
    with pytest.raises(ValueError, match="unknown FA3 parameter"):
        fn.flash_attn_func(q, k, v, schedule={"noSuch": 1}, **descales)
    with pytest.raises(TypeError, match="dict"):
        fn.flash_attn_func(q, k, v, schedule="rescaleThreshold=4", **descales)


def test_cache_batch_idx_reads_the_indexed_entries():
    """Entry b reads cache entry cache_batch_idx[b]: the bits of the caches gathered by hand; bad indices raise."""
    q = fn.fa3_case_inputs("bf16", 64, 1, 300, batch=3, heads=4, kv_heads=2, seed=7)["q"]
    cache = fn.fa3_case_inputs("bf16", 64, 1, 300, batch=2, heads=4, kv_heads=2, seed=8)
    idx = np.array([1, 1, 0], np.int32)
    lens = np.array([300, 40, 200], np.int32)
    a = fn.flash_attn_with_kvcache(q, cache["k"], cache["v"], cache_seqlens=lens, cache_batch_idx=idx, threads=2)
    b = fn.flash_attn_with_kvcache(q, cache["k"][idx], cache["v"][idx], cache_seqlens=lens, threads=2)
    assert np.array_equal(a.view(np.uint16), b.view(np.uint16))
    with pytest.raises(ValueError, match="cache_batch_idx must be in 0...1"):
        fn.flash_attn_with_kvcache(q, cache["k"], cache["v"], cache_batch_idx=[0, 2, 1])
    with pytest.raises(ValueError, match="shape"):
        fn.flash_attn_with_kvcache(q, cache["k"], cache["v"], cache_batch_idx=[0, 1])
