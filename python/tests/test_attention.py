"""Emulated attention, the reference and the metrics against closed forms and each other."""
import numpy as np
import pytest

import flashnumerics as fn


def tensors(shape_q, shape_k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape_q), rng.standard_normal(shape_k), rng.standard_normal(shape_k)


def test_uniform_scores_give_the_mean_of_v():
    q = np.zeros((1, 5, 1, 16))
    k = np.ones((1, 7, 1, 16))
    v = np.arange(7 * 16, dtype=np.float64).reshape(1, 7, 1, 16)
    ref, bits = fn.reference(q, k, v, precision_bits=64)
    assert bits >= 53
    assert np.allclose(ref[0, :, 0], v[0, :, 0].mean(axis=0), rtol=0, atol=1e-12)
    out = fn.attention(q, k, v, scheme="fp64", algorithm="naive")
    assert np.allclose(out, ref, rtol=0, atol=1e-12)


def test_fp32_scheme_is_close_and_fp8_is_worse():
    q, k, v = tensors((1, 64, 2, 32), (1, 80, 2, 32), seed=3)
    ref, _ = fn.reference(q, k, v, causal=True, precision_bits=64)
    fp32 = fn.metrics(fn.attention(q, k, v, scheme="fp32", causal=True), ref)
    fp8 = fn.metrics(fn.attention(q, k, v, scheme="fa3-fp8-per-head", algorithm="blocked-hopper-tiles", causal=True), ref)
    assert fp32["rmse"] < 1e-6 < fp8["rmse"] < 0.1


def test_metrics_closed_forms():
    ref = np.linspace(-1, 1, 100)
    m = fn.metrics(ref + 0.5, ref)
    assert m["count"] == 100 and m["rmse"] == pytest.approx(0.5, rel=1e-15) and m["max_abs"] == pytest.approx(0.5, rel=1e-15)
    assert fn.metrics(ref, ref)["sqnr_db"] == float("inf")


def test_mma_wgmma_chain_of_ones():
    a = np.full((1, 64, 32), 0x38, dtype=np.uint8)  # e4m3fn 1.0
    b = np.full((1, 8, 32), 0x38, dtype=np.uint8)
    c = np.zeros((1, 64, 8), dtype=np.float32)
    d = fn.mma("wgmma-e4m3-e4m3-k32", a, b, c)
    assert (d.view(np.float32) == 32).all()
