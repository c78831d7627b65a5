"""Conversions against ml_dtypes (an independent implementation) and closed forms."""
import ml_dtypes
import numpy as np
import pytest

import flashnumerics as fn


def test_formats_table():
    table = {f["name"]: f for f in fn.formats()}
    assert table["e4m3fn"]["max_finite"] == 448.0
    assert table["e5m2"]["max_finite"] == 57344.0
    assert table["bf16"]["bits"] == 16 and table["e2m1"]["bits"] == 4


@pytest.mark.parametrize("name,dtype", [("e4m3fn", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2),
                                        ("e4m3fnuz", ml_dtypes.float8_e4m3fnuz), ("e5m2fnuz", ml_dtypes.float8_e5m2fnuz),
                                        ("bf16", ml_dtypes.bfloat16), ("fp16", np.float16)])
def test_nearest_even_equals_ml_dtypes(name, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(200_000) * np.exp2(rng.integers(-20, 20, 200_000))).astype(np.float32)
    x = np.concatenate([x, np.float32([0, -0.0, np.inf, -np.inf, np.nan, 1e-30, 70000, 1e9])])
    ours = fn.convert(x, name, threads=2)
    assert ours.dtype == np.dtype(dtype)
    with np.errstate(over="ignore"):
        theirs = x.astype(dtype)
    width = np.uint8 if ours.itemsize == 1 else np.uint16
    a, b = ours.view(width), theirs.view(width)
    nan = np.isnan(theirs.astype(np.float32))
    assert np.array_equal(a[~nan], b[~nan])
    assert np.isnan(fn.decode(ours)[nan]).all()


def test_decode_is_exact_and_round_trips():
    codes = np.arange(256, dtype=np.uint8)
    values = fn.decode(codes, "e4m3fn")
    expected = codes.view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    assert np.array_equal(values, expected, equal_nan=True)
    finite = np.isfinite(values)
    assert np.array_equal(fn.convert(values[finite], "e4m3fn", codes=True), codes[finite])


def test_stochastic_rounding_is_seeded_and_thread_independent():
    x = np.full(100_000, 1.03)
    a = fn.convert(x, "e4m3fn", rounding="stochastic", seed=7, random_bits=8, threads=1, codes=True)
    b = fn.convert(x, "e4m3fn", rounding="stochastic", seed=7, random_bits=8, threads=3, codes=True)
    assert np.array_equal(a, b)
    assert abs(np.mean(a == 0x39) - 0.2421875) < 0.01  # ⌊0.24·256⌋/256 of the way to 1.125


def test_saturate_and_directed_modes():
    x = np.array([500.0, -500.0, 1.03])
    assert list(fn.convert(x, "e4m3fn", overflow="saturate", codes=True)) == [0x7E, 0xFE, 0x38]
    assert list(fn.convert(x, "e4m3fn", rounding="up", overflow="saturate", codes=True)) == [0x7E, 0xFE, 0x39]


def test_mufu_closed_forms():
    x = np.float32([0, 1, -3, 10])
    assert list(fn.mufu("ex2", x)) == [1, 2, 0.125, 1024]
    assert list(fn.mufu("rcp", np.float32([2, 0.25]))) == [0.5, 4]


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "bf16", "fp16", "e2m1", "e8m0", "e4m3"])
@pytest.mark.parametrize("rounding", ["nearest-even", "toward-zero", "up", "odd"])
def test_float32_kernels_equal_the_float64_path(name, rounding):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(50_000) * np.exp2(rng.integers(-30, 30, 50_000))).astype(np.float32)
    a = fn.convert(x, name, rounding=rounding, overflow="saturate", codes=True, threads=2)
    b = fn.convert(x.astype(np.float64), name, rounding=rounding, overflow="saturate", codes=True, threads=1)
    assert np.array_equal(a, b)


def test_ml_dtypes_names_name_the_formats():
    """Every format with an ml_dtypes dtype can be named by that dtype's name, with the same
    result; the table lists the names."""
    import numpy as np
    import flashnumerics as fn
    x = np.concatenate([np.linspace(-500, 500, 1001), [1e-30, -1e-30]])
    named = [f for f in fn.formats() if f["ml_dtypes"]]
    assert {(f["name"], f["ml_dtypes"]) for f in named} >= {("e4m3fn", "float8_e4m3fn"), ("e5m2", "float8_e5m2"), ("bf16", "bfloat16"),
                                                           ("fp16", "float16"), ("e2m1", "float4_e2m1fn")}
    for f in named:
        overflow = "saturate" if not f["nan"] else None
        a = fn.convert(x, f["name"], overflow=overflow, codes=True)
        b = fn.convert(x, f["ml_dtypes"], overflow=overflow, codes=True)
        assert np.array_equal(a, b), f["name"]
        assert np.array_equal(fn.decode(a, format=f["ml_dtypes"]), fn.decode(a, format=f["name"]), equal_nan=True), f["name"]
    with pytest.raises(ValueError, match="or their ml_dtypes names"):
        fn.convert(x, "float8_e9m9")
