#!/usr/bin/env python3
"""flashnumerics.flash_attn_func against the real FA3 kernel (fa3_fwd_interface.flash_attn_func) on
the same torch tensors: O and LSE bits, bf16 and float8_e4m3fn, several sizes, masks, GQA and
descales. Prints a Markdown table (and writes it, with JSON, into --out-dir when given). Without CUDA,
PyTorch or the fa3_fwd module it says so and exits 0 (nothing to compare).

Usage: python3 Scripts/fa3_python_twin.py [--out-dir DIR] [--threads N]
"""
import argparse
import json
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out-dir", dest="out")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    try:
        import torch
        from fa3_fwd_interface import flash_attn_func as kernel
    except Exception as e:  # noqa: BLE001 - any import failure means nothing to compare
        print(f"fa3_python_twin: skipped: PyTorch or fa3_fwd_interface not importable ({e.__class__.__name__}: {e})")
        return 0
    if not torch.cuda.is_available():
        print("fa3_python_twin: skipped: no CUDA device")
        return 0
    import flashnumerics

    # (dtype, batch, seqlen_q, seqlen_k, heads, kv_heads, head_dim, causal, seed)
    cases = [
        ("bf16", 1, 1000, 1000, 2, 2, 64, False, 1), ("bf16", 1, 1000, 1000, 2, 2, 64, True, 2),
        ("bf16", 2, 300, 700, 4, 2, 128, True, 3), ("bf16", 1, 513, 1031, 2, 1, 256, False, 4),
        ("bf16", 1, 1, 4096, 8, 2, 128, True, 5), ("bf16", 3, 77, 200, 6, 3, 96, False, 6),
        ("e4m3fn", 1, 1000, 1000, 2, 2, 128, False, 7), ("e4m3fn", 1, 600, 900, 4, 2, 64, True, 8),
        ("e4m3fn", 2, 256, 512, 2, 1, 256, False, 9), ("e4m3fn", 1, 1, 3000, 8, 8, 128, True, 10),
    ]
    rows = []
    for element, b, sq, sk, h, hk, d, causal, seed in cases:
        g = torch.Generator(device="cuda").manual_seed(seed)

        def tensor(s, heads):
            x = torch.randn(b, s, heads, d, device="cuda", generator=g)
            outliers = torch.rand(b, s, heads, d, device="cuda", generator=g) < 0.001
            return x + outliers * torch.randn(b, s, heads, d, device="cuda", generator=g) * 10

        q, k, v = tensor(sq, h), tensor(sk, hk), tensor(sk, hk)
        descales = {}
        if element == "bf16":
            q, k, v = q.bfloat16(), k.bfloat16(), v.bfloat16()
        else:
            for name in ("q", "k", "v"):
                descales[f"{name}_descale"] = (torch.rand(b, hk, device="cuda", generator=g) * 1.5 + 0.25).float()
            group = h // hk
            q = (q / descales["q_descale"].repeat_interleave(group, dim=1)[:, None, :, None]).to(torch.float8_e4m3fn)
            k = (k / descales["k_descale"][:, None, :, None]).to(torch.float8_e4m3fn)
            v = (v / descales["v_descale"][:, None, :, None]).to(torch.float8_e4m3fn)
        out_k, lse_k = kernel(q, k, v, causal=causal, return_attn_probs=True, **descales)[:2]
        torch.cuda.synchronize()
        start = time.time()
        out_t, lse_t = flashnumerics.flash_attn_func(q, k, v, causal=causal, return_attn_probs=True, threads=args.threads, **descales)
        seconds = time.time() - start
        assert out_t.dtype == out_k.dtype and out_t.device == out_k.device
        o_equal = (out_t.view(torch.int16) == out_k.view(torch.int16)).double().mean().item()
        lse_equal = (lse_t.view(torch.int32) == lse_k.float().view(torch.int32)).double().mean().item()
        rows.append({"element": element, "batch": b, "seqlen_q": sq, "seqlen_k": sk, "heads": h, "kv_heads": hk, "head_dim": d,
                     "causal": causal, "o_bit_exact": o_equal, "lse_bit_exact": lse_equal, "twin_seconds": round(seconds, 3)})
        print(json.dumps(rows[-1]), flush=True)
    table = ["| dtype | batch | seqlen q × k | heads (kv) | d | causal | O bit-exact | LSE bit-exact | twin s (CPU) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['element']} | {r['batch']} | {r['seqlen_q']}×{r['seqlen_k']} | {r['heads']} ({r['kv_heads']}) | {r['head_dim']} | "
                     f"{'yes' if r['causal'] else 'no'} | {100 * r['o_bit_exact']:.2f} % | {100 * r['lse_bit_exact']:.2f} % | {r['twin_seconds']} |")
    text = "\n".join(table) + "\n"
    print(f"\nGPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, flashnumerics {flashnumerics.__version__}\n")
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "fa3-python-twin.json"), "w") as f:
            json.dump({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, f, indent=1)
        with open(os.path.join(args.out, "fa3-python-twin.md"), "w") as f:
            f.write(text)
    return 0 if all(r["o_bit_exact"] == 1 and r["lse_bit_exact"] == 1 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
