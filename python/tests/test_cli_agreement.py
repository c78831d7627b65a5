"""The package and the command line give the same numbers: RMSE from `flashnumerics.metrics`
equals `flashnum attention --attribute --json`'s to the last digit, and the same tensors in
every file kind give the CLI identical bytes."""
import json
import subprocess

import ml_dtypes
import numpy as np
import pytest

import flashnumerics as fn


@pytest.fixture
def flashnum(repository):
    binary = repository / ".build" / "release" / "flashnum"
    if not binary.exists():
        pytest.skip("flashnum is not built (swift build -c release); the CLI comparison needs it")
    return str(binary)


def test_rmse_equals_the_cli_json(flashnum, tmp_path):
    rng = np.random.default_rng(11)
    tensors = {n: rng.standard_normal((1, 48, 2, 32)).astype(np.float32) for n in "qkv"}
    for n, a in tensors.items():
        np.save(tmp_path / f"{n}.npy", a)
    for scheme, algorithm in [("fa3-fp8-per-head", "blocked"), ("bf16", "naive"), ("fa3-fp8-per-head-hadamard", "blocked-hopper-tiles")]:
        cli = subprocess.run([flashnum, "attention", *sum(([f"--{n}", str(tmp_path / f"{n}.npy")] for n in "qkv"), []),
                              "--scheme", scheme, "--algorithm", algorithm, "--attribute", "--json", "--out", str(tmp_path / "o.npy")],
                             check=True, capture_output=True, text=True)
        report = json.loads(cli.stdout)
        out = fn.attention(tensors["q"], tensors["k"], tensors["v"], scheme=scheme, algorithm=algorithm, seed=0)
        ref, _ = fn.reference(tensors["q"], tensors["k"], tensors["v"], precision_bits=128)
        ours = fn.metrics(out, ref)
        assert ours["rmse"] == report["metrics"]["rmse"], scheme
        assert ours["max_abs"] == report["metrics"]["max_abs"], scheme
        assert np.array_equal(np.load(tmp_path / "o.npy"), out.astype(np.float32)), scheme
        attributed = fn.attribute(tensors["q"], tensors["k"], tensors["v"], scheme=scheme, algorithm=algorithm)
        assert attributed["metrics"]["rmse"] == ours["rmse"], scheme
        assert attributed["attribution"] == report["attribution"], scheme


def test_table_paper_rmse_equals_the_cli_json(flashnum):
    for extra, bits in [([], "double-word"), (["--reference-bits", "96"], 96), (["--fp64-reference"], None)]:
        cli = subprocess.run([flashnum, "table", "paper-rmse", "--seq-len", "96", "--head-dim", "64", "--heads", "1", "--seeds", "5",
                              "--rotation-seeds", "5", "--threads", "1", "--json", *extra], check=True, capture_output=True, text=True)
        rows = fn.table_paper_rmse(seq_len=96, head_dim=64, heads=1, seed=5, reference_bits=bits, threads=2)
        assert rows == json.loads(cli.stdout)
        assert [r["method"] for r in rows][:3] == ["Baseline FP16", "FlashAttention-2 FP16", "FlashAttention-3 FP16"]
        # The FP16 methods are an order of magnitude more accurate than the FP8 ones on the outlier inputs.
        assert max(r["rmse"] for r in rows[:3]) * 10 < min(r["rmse"] for r in rows[3:])


def test_file_kinds_give_identical_cli_bytes(flashnum, tmp_path):
    rng = np.random.default_rng(12)
    values = {n: rng.standard_normal((1, 40, 2, 64)).astype(np.float32) for n in "qkv"}
    bf16 = {n: v.astype(ml_dtypes.bfloat16) for n, v in values.items()}
    kinds = []
    for n in "qkv":
        np.save(tmp_path / f"{n}.mld.npy", bf16[n])
        np.save(tmp_path / f"{n}.u16.npy", bf16[n].view(np.uint16))
    np.savez(tmp_path / "t.npz", **{n: bf16[n] for n in "qkv"})
    kinds.append([str(tmp_path / f"{n}.mld.npy") for n in "qkv"])
    kinds.append([str(tmp_path / f"{n}.u16.npy") for n in "qkv"])
    kinds.append([f"{tmp_path / 't.npz'}:{n}" for n in "qkv"])
    outputs = []
    for i, files in enumerate(kinds):
        subprocess.run([flashnum, "attention", "--q", files[0], "--k", files[1], "--v", files[2], "--input-format", "bf16",
                        "--algorithm", "fa3", "--out-bits", "--out", str(tmp_path / f"o{i}.npy")], check=True)
        outputs.append((tmp_path / f"o{i}.npy").read_bytes())
    assert len(set(outputs)) == 1
    twin = fn.flash_attn_func(bf16["q"], bf16["k"], bf16["v"])
    assert np.array_equal(np.load(tmp_path / "o0.npy"), twin.view(np.uint16))


def test_the_package_and_the_command_line_are_one_version(flashnum):
    out = subprocess.run([flashnum, "--version"], check=True, capture_output=True, text=True).stdout
    assert out.startswith(f"flashnum {fn.__version__} ("), out


def test_the_seed_changes_rotating_schemes_only():
    # Through the C ABI: a random rotation depends on its seed, nothing else does.
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((1, 64, 2, 64)) + 30 * rng.standard_normal((1, 64, 2, 64)) * (rng.random((1, 64, 2, 64)) < 0.01)
               for _ in range(3))
    def run(scheme, seed):
        return fn.attention(q, k, v, algorithm="blocked", scheme=scheme, seed=seed)
    for scheme in ["fa3-fp8-per-head-hadamard", "fp8-per-tensor-hadamard", "fa3-fp8-per-block-hadamard"]:
        assert np.array_equal(run(scheme, 1), run(scheme, 1)), scheme
        assert not np.array_equal(run(scheme, 1), run(scheme, 2)), scheme
    for scheme in ["fa3-fp8-per-head", "bf16", "fp8-per-tensor"]:
        assert np.array_equal(run(scheme, 1), run(scheme, 2)), scheme
