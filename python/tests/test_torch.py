"""flashnumerics.torch against PyTorch itself (the oracle): SDPA semantics, the model hooks,
capture files, model-level metrics and the report. CI installs torch (CPU) and transformers."""
import json
import math
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="flashnumerics.torch needs PyTorch (CI installs it)")
F = torch.nn.functional

import flashnumerics as fn  # noqa: E402
import flashnumerics.torch as ft  # noqa: E402
from flashnumerics.torch.example import TinyGQATransformer, example_tokens  # noqa: E402


def qkv(b=2, hq=4, hkv=2, lq=7, lk=11, d=16, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(shape, generator=g).to(dtype) for shape in ((b, hq, lq, d), (b, hkv, lk, d), (b, hkv, lk, d)))


def float64_sdpa(q, k, v, **kw):
    mask = kw.get("attn_mask")
    if mask is not None and mask.dtype != torch.bool:
        kw["attn_mask"] = mask.double()
    return F.scaled_dot_product_attention(q.double(), k.double(), v.double(), **kw)


CASES = [
    dict(),
    dict(is_causal=True),                                    # top-left, seqlen_q < seqlen_k
    dict(scale=0.3),
    dict(attn_mask="bool-2d"),
    dict(attn_mask="float-4d"),
    dict(attn_mask="bool-head"),
]


def mask_for(kind, b, hq, lq, lk):
    g = torch.Generator().manual_seed(5)
    if kind == "bool-2d":
        return torch.rand(lq, lk, generator=g) > 0.3
    if kind == "float-4d":
        return torch.randn(b, 1, lq, lk, generator=g) * 2
    if kind == "bool-head":
        return torch.rand(1, hq, 1, lk, generator=g) > 0.5
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "plain")
@pytest.mark.parametrize("sizes", [(7, 11), (11, 7), (9, 9)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_fp32_scheme_matches_torch(case, sizes):
    lq, lk = sizes
    q, k, v = qkv(lq=lq, lk=lk)
    kw = dict(case, enable_gqa=True)
    if isinstance(kw.get("attn_mask"), str):
        kw["attn_mask"] = mask_for(kw["attn_mask"], 2, 4, lq, lk)
    truth = float64_sdpa(q, k, v, **kw)
    out = ft.scaled_dot_product_attention(q, k, v, **kw)
    assert out.dtype == torch.float32 and out.shape == truth.shape
    # FP32 noise: a few ulps of outputs of size ~1 (torch's own float32 SDPA is as far).
    own = F.scaled_dot_product_attention(q, k, v, **kw)
    bound = max(8 * (own.double() - truth).abs().max().item(), 2e-6)
    assert (out.double() - truth).abs().max().item() <= bound


def test_causal_alignment_is_top_left_when_lengths_differ():
    q, k, v = qkv(lq=3, lk=10)
    out = ft.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True, scheme="fp64", algorithm="naive")
    # Query 0 sees key 0 only (bottom-right alignment would let it see keys 0...7).
    assert torch.allclose(out[:, :, 0], torch.repeat_interleave(v, 2, dim=1)[:, :, 0].double().float(), atol=1e-7)
    assert torch.allclose(out.double(), float64_sdpa(q, k, v, is_causal=True, enable_gqa=True), atol=1e-6, rtol=0)


def test_fully_masked_rows_are_zero_as_in_torch():
    q, k, v = qkv(hq=2, hkv=2)
    mask = torch.ones(7, 11, dtype=torch.bool)
    mask[2] = False
    out = ft.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.equal(out[:, :, 2], torch.zeros_like(out[:, :, 2]))
    assert torch.equal(out[:, :, 2], F.scaled_dot_product_attention(q, k, v, attn_mask=mask)[:, :, 2])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_result_has_the_query_dtype_and_the_exact_input_values(dtype):
    q, k, v = qkv(dtype=dtype)
    out = ft.scaled_dot_product_attention(q, k, v, enable_gqa=True, scheme="fp64", algorithm="naive")
    assert out.dtype == dtype and out.device == q.device
    expected = float64_sdpa(q, k, v, enable_gqa=True).to(dtype)
    assert torch.equal(out, expected) if dtype != torch.float64 else torch.allclose(out, expected, atol=1e-13, rtol=0)


def test_3d_inputs_and_low_precision_schemes():
    q, k, v = (x[0] for x in qkv(hq=2, hkv=2))
    out = ft.scaled_dot_product_attention(q, k, v, scheme="fa3-fp8-per-head")
    truth = float64_sdpa(q, k, v)
    error = (out.double() - truth).abs().max().item()
    assert out.shape == q.shape and 1e-4 < error < 0.2


@pytest.mark.parametrize("call, message", [
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v, dropout_p=0.1), "dropout_p must be 0"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v), "query heads 4 must be equal"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k[:, :1].expand(2, 3, 11, 16), v[:, :1].expand(2, 3, 11, 16), enable_gqa=True),
     "multiple of"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v, enable_gqa=True, attn_mask=torch.ones(5, 11, dtype=torch.bool)),
     "does not broadcast"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True, attn_mask=torch.ones(7, 11, dtype=torch.bool)),
     "may not be combined"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v[..., :8], enable_gqa=True), "value's head dim"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q.int(), k, v, enable_gqa=True), "floating-point"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q[0, 0], k, v, enable_gqa=True), "must be 4-D"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v, enable_gqa=True, attn_mask=torch.ones(7, 11, dtype=torch.int32)), "boolean or floating"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v, enable_gqa=True, attn_mask=torch.full((7, 11), math.nan)), "NaN"),
    (lambda q, k, v: ft.scaled_dot_product_attention(q, k, v, enable_gqa=True, scheme="no-such"), "unknown scheme"),
])
def test_bad_input_is_one_clear_error(call, message):
    q, k, v = qkv()
    with pytest.raises((ValueError, TypeError), match=message) as info:
        call(q, k, v)
    assert "\n" not in str(info.value)


def model_and_tokens(seqlen=64):
    return TinyGQATransformer(layers=3, dim=128, heads=4, kv_heads=2).eval(), example_tokens(seqlen=seqlen)


def test_emulate_fp32_keeps_the_model_within_fp32_noise_and_fp8_moves_it():
    model, tokens = model_and_tokens()
    with torch.no_grad():
        own = model(tokens)
        with ft.emulate(scheme="fp32"):
            fp32 = model(tokens)
        with ft.emulate(scheme="fa3-fp8-per-head"):
            fp8 = model(tokens)
    assert F.scaled_dot_product_attention.__module__.startswith("torch")  # restored
    scale = own.abs().max().item()
    assert (fp32 - own).abs().max().item() < 1e-5 * scale
    moved = (fp8 - own).abs().max().item()
    assert torch.isfinite(fp8).all() and moved > 100 * (fp32 - own).abs().max().item()


def test_emulate_restores_torch_after_an_exception():
    original = F.scaled_dot_product_attention
    with pytest.raises(RuntimeError):
        with ft.emulate(scheme="fp32"):
            raise RuntimeError("inside")
    assert F.scaled_dot_product_attention is original


def test_capture_records_every_call_and_reads_back(tmp_path):
    model, tokens = model_and_tokens(seqlen=32)
    path = tmp_path / "capture.safetensors"
    with torch.no_grad(), ft.capture(path, model=model):
        own = model(tokens)
        model(tokens[:, :16])
    info, tensors = ft.read_capture(path)
    assert info["status"] == "complete" and len(info["entries"]) == 6
    assert [(e["forward"], e["layer"]) for e in info["entries"]] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    first = info["entries"][0]
    assert first["is_causal"] and first["enable_gqa"] and first["shape"]["q"] == [1, 4, 32, 32]
    q, k, v, out = (tensors[f"call0.{p}"] for p in ("q", "k", "v", "out"))
    assert torch.equal(F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), out)
    # Only some layers and heads: the kept query heads with their key/value heads.
    with torch.no_grad(), ft.capture(path, model=model, layers=[1], heads=[1, 2]):
        model(tokens)
    info, tensors = ft.read_capture(path)
    assert [e["layer"] for e in info["entries"]] == [1]
    e = info["entries"][0]
    assert e["shape"]["q"] == [1, 2, 32, 32] == e["shape"]["k"] and not e["enable_gqa"]
    q, k, v, out = (tensors[f"{e['name']}.{p}"] for p in ("q", "k", "v", "out"))
    assert torch.equal(F.scaled_dot_product_attention(q, k, v, is_causal=True), out)


def test_capture_of_3d_calls_and_masks(tmp_path):
    q, k, v = (x[0] for x in qkv(hq=2, hkv=2))
    mask = torch.rand(7, 11, generator=torch.Generator().manual_seed(3)) > 0.4
    path = tmp_path / "m.safetensors"
    with ft.capture(path):
        own = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    info, tensors = ft.read_capture(path)
    e = info["entries"][0]
    assert e["mask"] and e["shape"]["q"] == [1, 2, 7, 16]
    assert torch.equal(tensors["call0.mask"], mask) and torch.equal(tensors["call0.out"][0], own)
    replay = ft.scaled_dot_product_attention(tensors["call0.q"], tensors["call0.k"], tensors["call0.v"], attn_mask=tensors["call0.mask"])
    assert (replay[0] - own).abs().max().item() < 1e-5


def test_capture_writes_whole_files_only(tmp_path):
    model, tokens = model_and_tokens(seqlen=16)
    path = tmp_path / "c.safetensors"
    with pytest.raises(KeyError):
        with torch.no_grad(), ft.capture(path, model=model):
            model(tokens)
            raise KeyError("stop")
    info, _ = ft.read_capture(path)
    assert info["status"] == "interrupted" and len(info["entries"]) == 3
    assert sorted(os.listdir(tmp_path)) == ["c.safetensors"]
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    for bad, message in [(tmp_path / "missing.safetensors", "no such file"), (tmp_path / "cut.safetensors", "not a readable")]:
        with pytest.raises(ValueError, match=message):
            ft.read_capture(bad)
    with pytest.raises(ValueError, match="does not exist"):
        with ft.capture(tmp_path / "no" / "x.safetensors"):
            pass
    with pytest.raises(ValueError, match="is a folder"):
        with ft.capture(tmp_path):
            pass


def test_compare_and_report(tmp_path):
    model, tokens = model_and_tokens()
    targets = torch.roll(tokens, -1, dims=1)
    fp32 = ft.compare(model, tokens, "fp32", targets=targets)
    fp8 = ft.compare(model, tokens, "fa3-fp8-per-head", targets=targets)
    assert len(fp32["layers"]) == 3 and fp32["finite"] and fp8["finite"]
    assert fp32["logits"]["top1_agreement"] == 1.0 and fp32["logits"]["kl_divergence"] < 1e-10
    for e in fp32["layers"]:
        assert e["emulated"]["relative"] < 1e-6 and e["emulated"]["cosine"] > 1 - 1e-10
    for e in fp8["layers"]:
        assert 1e-3 < e["emulated"]["relative"] < 0.3
    assert fp8["logits"]["kl_divergence"] > 1e3 * fp32["logits"]["kl_divergence"]
    assert math.isclose(fp32["perplexity"]["torch"], fp32["perplexity"]["emulated"], rel_tol=1e-5)
    report = ft.write_report([fp32, fp8], tmp_path / "report")
    text = open(report, encoding="utf-8").read()
    assert "fa3-fp8-per-head" in text and "per-layer.png" in text
    assert (tmp_path / "report" / "per-layer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "report" / "results.json").read_text())[1]["scheme"] == "fa3-fp8-per-head"


def test_hugging_face_attention_implementation():
    transformers = pytest.importorskip("transformers", reason="CI installs transformers")
    config = transformers.LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    ids = torch.randint(0, 97, (2, 13))
    mask = torch.ones(2, 13, dtype=torch.long)
    mask[1, :4] = 0  # left padding: a real 4-D mask reaches the attention
    with torch.no_grad():
        model.set_attn_implementation("sdpa")
        own = model(ids, attention_mask=mask).logits
        model.set_attn_implementation(ft.register_transformers(scheme="fp32"))
        emulated = model(ids, attention_mask=mask).logits
    assert (emulated - own)[0].abs().max().item() < 1e-5
    assert (emulated - own)[1, 4:].abs().max().item() < 1e-5
    with pytest.raises(ValueError, match="reserves"):
        ft.register_transformers(name="flashy")


@pytest.mark.parametrize("dtype, format", [(torch.bfloat16, "bf16"), (torch.float16, "fp16"), (torch.float8_e4m3fn, "e4m3fn"),
                                           (torch.float8_e5m2, "e5m2")])
def test_torch_tensors_in_and_out_of_convert_and_decode(dtype, format):
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(1)) * 3
    codes = fn.convert(x, format)
    assert isinstance(codes, torch.Tensor) and codes.dtype == dtype and codes.device == x.device
    assert torch.equal(codes.view(torch.uint8 if dtype.itemsize == 1 else torch.int16),
                       x.to(dtype).view(torch.uint8 if dtype.itemsize == 1 else torch.int16))  # torch's own cast (RNE)
    values = fn.decode(codes)
    assert isinstance(values, torch.Tensor) and values.dtype == torch.float64
    assert torch.equal(values, x.to(dtype).double())
    # From one low-precision tensor to another, and back from bit patterns.
    again = fn.convert(x.to(torch.bfloat16), format)
    assert torch.equal(fn.decode(again), x.to(torch.bfloat16).double().to(dtype).double())
    bits = fn.convert(x, format, codes=True)
    assert torch.equal(fn.decode(bits, format), values)


def test_torch_tensors_through_attention_and_the_fa3_twin():
    q = torch.randn(1, 40, 2, 64, generator=torch.Generator().manual_seed(2)).bfloat16()
    out = fn.attention(q, q, q, scheme="bf16")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == q.shape
    o, lse = fn.flash_attn_func(q, q, q, return_attn_probs=True)
    assert o.dtype == torch.bfloat16 and o.shape == q.shape and lse.dtype == torch.float32 and lse.shape == (1, 2, 40)
    assert (o.double() - out).abs().max().item() < 0.05


def test_benchmark_script_prints_rows(repository):
    import subprocess
    import sys
    run = subprocess.run([sys.executable, str(repository / "python" / "benchmarks" / "model_forward.py"), "--seqlen", "32", "--repeats", "1",
                          "--schemes", "fp32", "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    row = json.loads(run.stdout.splitlines()[0])
    assert row["scheme"] == "fp32" and row["seqlen"] == 32 and row["emulated_ms"] > 0 and row["torch_ms"] > 0


def test_integer_masks_are_refused_not_added():
    q, k, v = (np.asarray(x.transpose(1, 2)) for x in qkv(hq=2, hkv=2))
    for mask in (np.ones((7, 11), dtype=np.int64), torch.ones(7, 11, dtype=torch.int32)):
        with pytest.raises(TypeError, match="boolean .* or floating point"):
            fn.attention(q, k, v, mask=mask)


def test_pytorch_masked_value_gives_no_nan():
    """HF-style padding: masked keys carry the float32 minimum, not -inf."""
    q, k, v = qkv(lq=4, lk=40)
    mask = torch.zeros(1, 1, 4, 40)
    mask[..., :12] = torch.finfo(torch.float32).min
    for scheme in ["fp32", "bf16", "fa3-fp8-per-head"]:
        out = ft.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True, scheme=scheme)
        assert torch.isfinite(out).all()
    truth = float64_sdpa(q, k, v, attn_mask=mask, enable_gqa=True)
    out = ft.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    assert (out.double() - truth).abs().max().item() < 2e-6


def test_hostile_capture_metadata_is_a_value_error(tmp_path):
    from safetensors.torch import save_file
    for meta in ['{"format": "flashnumerics-capture-1", "entries": [{"call": 0}]}', '{"format": "flashnumerics-capture-1", "entries": 3}',
                 '[1, 2]', '{"format": "other"}']:
        path = tmp_path / "h.safetensors"
        save_file({"x": torch.zeros(1)}, str(path), metadata={"flashnumerics": meta})
        with pytest.raises(ValueError):
            ft.read_capture(path)


def test_capture_file_mode_follows_the_umask(tmp_path):
    path = tmp_path / "m.safetensors"
    with ft.capture(path):
        F.scaled_dot_product_attention(*qkv(hq=2, hkv=2))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
