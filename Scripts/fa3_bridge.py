#!/usr/bin/env python3
"""Run the real FlashAttention-3 forward kernel (PyPI wheel fa3-fwd, module fa3_fwd_interface)
on exact input bytes, for `flashnum crosscheck`.

    python3 Scripts/fa3_bridge.py --check          # exit 0 and the device name when usable,
                                                   # else exit 3 and one line saying why
    python3 Scripts/fa3_bridge.py CASE_DIR ...     # run every case directory

A case directory holds q.npy, k.npy, v.npy (B, S, H, D) as raw codes: uint16 bf16/fp16 bit
patterns or uint8 e4m3fn bytes; optional q_descale.npy, k_descale.npy, v_descale.npy (float32,
(B, H_kv)); optional cache_seqlens.npy (int32 (B,)): K and V are KV caches; and meta.json
{"element": "bf16"|"fp16"|"e4m3fn", "causal": bool, "softmax_scale": float, optional "num_splits":
int, optional "softcap": float}. The script writes o.npy (uint16: the output's bf16/fp16 bits,
(B, S_q, H, D)), lse.npy (float32, (B, H, S_q), natural log) and kernel.json (device, torch and
wheel versions, whether two calls gave the same bits). The call is
flash_attn_func(q, k, v, softmax_scale=..., causal=..., q_descale=..., k_descale=...,
v_descale=..., softcap=..., num_splits=..., return_attn_probs=True), or with cache_seqlens.npy
flash_attn_with_kvcache(q, k, v, cache_seqlens=..., softmax_scale=..., causal=..., descales,
softcap=..., num_splits=..., return_softmax_lse=True), every other argument at its default.
"""
import json
import os
import sys

import numpy as np


def check():
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        return None, f"PyTorch is not importable ({e.__class__.__name__}: {e})"
    if not torch.cuda.is_available():
        return None, "no CUDA device"
    try:
        import fa3_fwd_interface  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return None, f"the fa3_fwd module is not importable ({e.__class__.__name__}: {e})"
    major, minor = torch.cuda.get_device_capability()
    if major != 9:
        return None, f"FA3 needs a Hopper GPU (sm_90), found sm_{major}{minor}"
    return torch.cuda.get_device_name(), None


def run_case(directory):
    import torch
    from fa3_fwd_interface import flash_attn_func, flash_attn_with_kvcache

    meta = json.load(open(os.path.join(directory, "meta.json")))
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "e4m3fn": torch.float8_e4m3fn}[meta["element"]]

    def load(name):
        a = np.load(os.path.join(directory, name + ".npy"))
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.view(dtype).cuda() if a.dtype in (np.uint8, np.uint16) else t.cuda()

    q, k, v = load("q"), load("k"), load("v")
    descales = {}
    for name in ("q", "k", "v"):
        path = os.path.join(directory, name + "_descale.npy")
        if os.path.exists(path):
            descales[name + "_descale"] = torch.from_numpy(np.load(path)).cuda()
    lens_path = os.path.join(directory, "cache_seqlens.npy")
    lens = torch.from_numpy(np.load(lens_path).astype(np.int32)).cuda() if os.path.exists(lens_path) else None
    outputs = []
    for _ in range(2):
        if lens is None:
            result = flash_attn_func(q, k, v, softmax_scale=meta["softmax_scale"], causal=meta["causal"],
                                     softcap=meta.get("softcap", 0.0), num_splits=meta.get("num_splits", 1),
                                     return_attn_probs=True, **descales)
        else:
            result = flash_attn_with_kvcache(q, k, v, cache_seqlens=lens, softmax_scale=meta["softmax_scale"], causal=meta["causal"],
                                             softcap=meta.get("softcap", 0.0), num_splits=meta.get("num_splits", 0),
                                             return_softmax_lse=True, **descales)
        if not isinstance(result, (tuple, list)):
            raise RuntimeError("flash_attn_func returned no LSE with return_attn_probs=True")
        out, lse = result[0], result[1]
        torch.cuda.synchronize()
        outputs.append((out.view(torch.uint16).cpu().numpy().copy(), lse.float().cpu().numpy().copy()))
    (o, l), (o2, l2) = outputs
    np.save(os.path.join(directory, "o.npy"), o)
    np.save(os.path.join(directory, "lse.npy"), l)
    import fa3_fwd_interface
    info = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "fa3_fwd_interface": getattr(fa3_fwd_interface, "__file__", "?"),
        "deterministic": bool(np.array_equal(o, o2) and np.array_equal(l.view(np.uint32), l2.view(np.uint32))),
    }
    try:
        from importlib.metadata import version
        info["fa3_fwd"] = version("fa3-fwd")
    except Exception:  # noqa: BLE001
        pass
    json.dump(info, open(os.path.join(directory, "kernel.json"), "w"), indent=1)


def main(argv):
    if argv[1:] == ["--check"]:
        name, why = check()
        if name is None:
            print(why)
            return 3
        print(name)
        return 0
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: fa3_bridge.py --check | CASE_DIR ...", file=sys.stderr)
        return 2
    name, why = check()
    if name is None:
        print(f"fa3_bridge: cannot run the kernel: {why}", file=sys.stderr)
        return 3
    for directory in argv[1:]:
        run_case(directory)
        print(f"fa3_bridge: {directory} done", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
