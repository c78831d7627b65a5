#!/usr/bin/env python3
"""The FA3 kernel's decode and split paths against their CPU twins in flashnumerics, on random
cases: O and LSE bits of fa3_fwd_interface and flashnumerics on the same torch tensors.

Paths (each `--cases N` random cases from `--seed`):
  split-explicit   flash_attn_func(num_splits=2...40), causal or not, GQA
  split-auto       flash_attn_func(num_splits=0): the kernel's heuristic (short queries, long keys)
  kvcache-auto     flash_attn_with_kvcache(cache_seqlens=..., num_splits=0): decode, per-entry splits
  kvcache-explicit flash_attn_with_kvcache(cache_seqlens=..., num_splits=2...16)
  nan              flash_attn_func with NaN codes in Q, K or V (with and without splits)
  head-dim-v       flash_attn_func with V's head dim != Q/K's (192/128-like; bf16 d <= 64 with V up to 512)
  varlen           flash_attn_varlen_func: packed sequences (some empty), causal or not, num_splits 1, 0 or 3
  inf              flash_attn_func with ±Inf codes in Q, K or V (bf16; e4m3fn has no Inf), with and without splits
  softcap          flash_attn_func(softcap=0.5...60), bf16 or e4m3fn, causal or not, num_splits 1, 0 or 3
  softcap-kvcache  flash_attn_with_kvcache(softcap=..., cache_seqlens=...): decode with the kernel's splits
  softcap-varlen   flash_attn_varlen_func(softcap=...): packed sequences
  kvcache-batch-idx flash_attn_with_kvcache(cache_batch_idx=...): caches of their own batch size,
                   entries picked (and repeated) per batch entry, with cache_seqlens or without

Prints one JSON line per case and a Markdown summary; with --out-dir DIR writes the summary
(fa3-surface.md, fa3-surface.json) and, with --fixtures N, the inputs and kernel outputs of the
first N small cases of each path as .npz files (for replay without a GPU). Without CUDA, PyTorch
or the fa3_fwd module it says so and exits 0. Exit 1 when any case differs.

Usage: python3 Scripts/fa3_surface_twin.py [--cases 100] [--seed 0] [--out-dir DIR] [--fixtures 3] [--threads N]
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np

PATHS = ["split-explicit", "split-auto", "kvcache-auto", "kvcache-explicit", "nan", "head-dim-v", "varlen", "inf", "softcap",
         "softcap-kvcache", "softcap-varlen", "kvcache-batch-idx"]


def draw(path, rng):
    """One random case of a path: a dict of sizes and arguments."""
    element = rng.choice(["bf16", "e4m3fn"])
    d = rng.choice([64, 96, 128, 192, 256])
    kv = rng.choice([1, 1, 2, 4])
    group = rng.choice([1, 1, 2, 4, 8])
    c = {"path": path, "element": element, "head_dim": d, "kv_heads": kv, "heads": kv * group, "seed": rng.randrange(1 << 30)}
    if path == "split-explicit":
        c.update(batch=rng.randint(1, 3), seqlen_q=rng.choice([1, rng.randint(1, 64), rng.randint(64, 400)]),
                 seqlen_k=rng.randint(64, 3000), causal=rng.random() < 0.5, num_splits=rng.choice([2, 3, 4, 7, 8, 13, 16, 17, 33]))
    elif path == "split-auto":
        c.update(batch=rng.randint(1, 2), seqlen_q=rng.choice([1, rng.randint(1, 128)]), seqlen_k=rng.randint(600, 8000),
                 causal=rng.random() < 0.3, num_splits=0)
    elif path == "softcap":
        sq = rng.choice([1, rng.randint(1, 64), rng.randint(1, 1200)])
        c.update(batch=rng.randint(1, 2), seqlen_q=sq, seqlen_k=rng.choice([sq, rng.randint(1, 1500)]), causal=rng.random() < 0.5,
                 num_splits=rng.choice([1, 1, 0, 3]))
    elif path == "kvcache-batch-idx":
        b, cache = rng.randint(1, 6), rng.choice([rng.randint(16, 200), rng.randint(64, 3000)])
        entries = rng.randint(1, 8)
        c.update(batch=b, seqlen_q=rng.choice([1, 1, rng.randint(1, 8)]), seqlen_k=cache, causal=rng.random() < 0.5,
                 num_splits=rng.choice([0, 0, 3]), cache_batch=entries,
                 cache_batch_idx=[rng.randrange(entries) for _ in range(b)])
        if rng.random() < 0.7:
            c["cache_seqlens"] = [rng.choice([cache, rng.randint(0, cache)]) for _ in range(b)]
    elif path in ("kvcache-auto", "kvcache-explicit", "softcap-kvcache"):
        b = rng.randint(1, 8)
        cache = rng.randint(128, 8192)
        c.update(batch=b, seqlen_q=rng.choice([1, 1, 1, rng.randint(1, 8)]), seqlen_k=cache, causal=rng.random() < 0.5,
                 num_splits=rng.randint(2, 16) if path == "kvcache-explicit" else 0,
                 cache_seqlens=[rng.choice([cache, rng.randint(0, cache), rng.randint(1, min(300, cache))]) for _ in range(b)])
    elif path == "inf":
        c.update(element="bf16", batch=rng.randint(1, 2), seqlen_q=rng.randint(1, 200), seqlen_k=rng.randint(1, 1500),
                 causal=rng.random() < 0.5, num_splits=rng.choice([1, 1, 3]), nan_in=rng.choice(["q", "k", "v"]),
                 nan_count=rng.randint(1, 4), special=rng.choice([0x7F80, 0xFF80]))
    elif path == "nan":
        c.update(batch=rng.randint(1, 2), seqlen_q=rng.randint(1, 200), seqlen_k=rng.randint(1, 1500), causal=rng.random() < 0.5,
                 num_splits=rng.choice([1, 1, 3]), nan_in=rng.choice(["q", "k", "v"]), nan_count=rng.randint(1, 4))
    elif path in ("varlen", "softcap-varlen"):
        b = rng.randint(1, 6)
        c.update(batch=b, seqlens_q=[rng.choice([0, 1, rng.randint(1, 40), rng.randint(1, 600)]) for _ in range(b)],
                 seqlens_k=[rng.choice([0, rng.randint(1, 64), rng.randint(1, 2500)]) for _ in range(b)],
                 causal=rng.random() < 0.5, num_splits=rng.choice([1, 1, 0, 3]))
        c["seqlens_q"][0] = max(c["seqlens_q"][0], 1)
        c.update(seqlen_q=sum(c["seqlens_q"]), seqlen_k=sum(c["seqlens_k"]))
    else:  # head-dim-v
        if element == "e4m3fn" or rng.random() < 0.5:
            c.update(head_dim=rng.choice([144, 160, 176, 192]), head_dim_v=rng.choice([112, 128]))
        else:
            c.update(head_dim=rng.choice([32, 48, 64]), head_dim_v=rng.choice([96, 128, 256, 384, 512]))
        c.update(batch=rng.randint(1, 2), seqlen_q=rng.choice([1, rng.randint(1, 300)]), seqlen_k=rng.randint(1, 1500),
                 causal=rng.random() < 0.5, num_splits=rng.choice([1, 1, 0, 3]))
    if path.startswith("softcap"):
        c.update(softcap=rng.choice([0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 50.0, round(rng.uniform(0.1, 60), 3)]))
    return c


def tensors(c, torch):
    g = torch.Generator(device="cuda").manual_seed(c["seed"])
    b, d, h, hk = c["batch"], c["head_dim"], c["heads"], c["kv_heads"]

    def tensor(s, heads, dim=d):
        x = torch.randn(b, s, heads, dim, device="cuda", generator=g)
        outliers = torch.rand(b, s, heads, dim, device="cuda", generator=g) < 0.001
        x = x + outliers * torch.randn(b, s, heads, dim, device="cuda", generator=g) * 10
        return x[0] if "seqlens_q" in c else x  # varlen: (total, heads, dim) of the packed sequences

    q = tensor(c["seqlen_q"], h)
    kb = c.get("cache_batch", b)  # K and V: caches of their own batch size with cache_batch_idx
    k = torch.randn(kb, c["seqlen_k"], hk, d, device="cuda", generator=g) if kb != b else tensor(c["seqlen_k"], hk)
    v = torch.randn(kb, c["seqlen_k"], hk, c.get("head_dim_v", d), device="cuda", generator=g) if kb != b \
        else tensor(c["seqlen_k"], hk, c.get("head_dim_v", d))
    descales = {}
    if c["element"] == "bf16":
        q, k, v = q.bfloat16(), k.bfloat16(), v.bfloat16()
    else:
        for name in ("q", "k", "v"):
            descales[f"{name}_descale"] = (torch.rand(b, hk, device="cuda", generator=g) * 1.5 + 0.25).float()
        if "seqlens_q" in c:  # varlen: one descale row per sequence, applied to its tokens
            def per_token(ds, lens, group=1):
                return ds.repeat_interleave(group, dim=1).repeat_interleave(torch.tensor(lens, device="cuda"), dim=0)[:, :, None]
            q = (q / per_token(descales["q_descale"], c["seqlens_q"], h // hk)).to(torch.float8_e4m3fn)
            k = (k / per_token(descales["k_descale"], c["seqlens_k"])).to(torch.float8_e4m3fn)
            v = (v / per_token(descales["v_descale"], c["seqlens_k"])).to(torch.float8_e4m3fn)
        elif "cache_batch_idx" in c:  # cache rows quantized with their own descales; entry b's are its row's
            idx = torch.tensor(c["cache_batch_idx"], device="cuda")
            row_k = (torch.rand(kb, hk, device="cuda", generator=g) * 1.5 + 0.25).float()
            row_v = (torch.rand(kb, hk, device="cuda", generator=g) * 1.5 + 0.25).float()
            q = (q / descales["q_descale"].repeat_interleave(h // hk, dim=1)[:, None, :, None]).to(torch.float8_e4m3fn)
            k = (k / row_k[:, None, :, None]).to(torch.float8_e4m3fn)
            v = (v / row_v[:, None, :, None]).to(torch.float8_e4m3fn)
            descales["k_descale"], descales["v_descale"] = row_k[idx].contiguous(), row_v[idx].contiguous()
        else:
            q = (q / descales["q_descale"].repeat_interleave(h // hk, dim=1)[:, None, :, None]).to(torch.float8_e4m3fn)
            k = (k / descales["k_descale"][:, None, :, None]).to(torch.float8_e4m3fn)
            v = (v / descales["v_descale"][:, None, :, None]).to(torch.float8_e4m3fn)
    if c["path"] in ("nan", "inf"):
        target = {"q": q, "k": k, "v": v}[c["nan_in"]]
        codes = target.view(torch.uint8 if c["element"] == "e4m3fn" else torch.int16).view(-1)
        nan = c.get("special", 0x7F if c["element"] == "e4m3fn" else 0x7FC0)
        nan = nan - 0x10000 if nan >= 0x8000 else nan  # int16 view
        for _ in range(c["nan_count"]):
            codes[torch.randint(0, codes.numel(), (1,), device="cuda", generator=g)] = nan
    return q, k, v, descales


def run(c, fn, kernel, torch, threads):
    q, k, v, descales = tensors(c, torch)
    common = dict(causal=c["causal"], num_splits=c["num_splits"], softcap=c.get("softcap", 0.0), **descales)
    if "seqlens_q" in c:
        cu = [torch.tensor([0] + list(np.cumsum(c[n])), dtype=torch.int32, device="cuda") for n in ("seqlens_q", "seqlens_k")]
        lengths = dict(max_seqlen_q=max(c["seqlens_q"]), max_seqlen_k=max(c["seqlens_k"]))
        out_k, lse_k = kernel.flash_attn_varlen_func(q, k, v, cu[0], cu[1], return_attn_probs=True, **lengths, **common)[:2]
        torch.cuda.synchronize()
        start = time.time()
        out_t, lse_t = fn.flash_attn_varlen_func(q, k, v, cu[0], cu[1], return_attn_probs=True, threads=threads, **lengths, **common)
    elif "cache_seqlens" in c or "cache_batch_idx" in c:
        lens = torch.tensor(c["cache_seqlens"], dtype=torch.int32, device="cuda") if "cache_seqlens" in c else None
        if "cache_batch_idx" in c:
            common["cache_batch_idx"] = torch.tensor(c["cache_batch_idx"], dtype=torch.int32, device="cuda")
        out_k, lse_k = kernel.flash_attn_with_kvcache(q, k, v, cache_seqlens=lens, return_softmax_lse=True, **common)[:2]
        torch.cuda.synchronize()
        start = time.time()
        out_t, lse_t = fn.flash_attn_with_kvcache(q, k, v, cache_seqlens=lens, return_softmax_lse=True, threads=threads, **common)
    else:
        out_k, lse_k = kernel.flash_attn_func(q, k, v, return_attn_probs=True, **common)[:2]
        torch.cuda.synchronize()
        start = time.time()
        out_t, lse_t = fn.flash_attn_func(q, k, v, return_attn_probs=True, threads=threads, **common)
    seconds = time.time() - start
    o_k, o_t = out_k.view(torch.int16).cpu().numpy(), out_t.view(torch.int16).cpu().numpy()
    l_k, l_t = lse_k.float().contiguous().view(torch.int32).cpu().numpy(), lse_t.contiguous().view(torch.int32).cpu().numpy()
    result = dict(c, o_bit_exact=float((o_k == o_t).mean()), lse_bit_exact=float((l_k == l_t).mean()), twin_seconds=round(seconds, 3))
    codes = lambda t: t.view(torch.uint8 if c["element"] == "e4m3fn" else torch.int16).cpu().numpy()  # noqa: E731
    arrays = {"q": codes(q), "k": codes(k), "v": codes(v), "o": o_k, "lse": l_k.view(np.float32)}
    arrays.update({name: t.cpu().numpy() for name, t in descales.items()})
    if "cache_batch_idx" in c:
        arrays["cache_batch_idx"] = np.array(c["cache_batch_idx"], dtype=np.int32)
    return result, arrays


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--out-dir", dest="out")
    parser.add_argument("--fixtures", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    try:
        import torch
        import fa3_fwd_interface as kernel
    except Exception as e:  # noqa: BLE001 - any import failure means nothing to compare
        print(f"fa3_surface_twin: skipped: PyTorch or fa3_fwd_interface not importable ({e.__class__.__name__}: {e})")
        return 0
    if not torch.cuda.is_available():
        print("fa3_surface_twin: skipped: no CUDA device")
        return 0
    import flashnumerics as fn

    rng = random.Random(args.seed)
    rows, saved = [], {}
    for path in args.paths.split(","):
        for _ in range(args.cases):
            c = draw(path, rng)
            result, arrays = run(c, fn, kernel, torch, args.threads)
            rows.append(result)
            print(json.dumps(result), flush=True)
            small = sum(a.nbytes for a in arrays.values()) < 160_000
            if args.out and small and saved.get(path, 0) < args.fixtures:
                saved[path] = saved.get(path, 0) + 1
                folder = os.path.join(args.out, "fixtures")
                os.makedirs(folder, exist_ok=True)
                meta = json.dumps({k: v for k, v in c.items()})
                np.savez_compressed(os.path.join(folder, f"{path}-{saved[path]}.npz"), meta=np.array(meta), **arrays)
    summary = ["| path | cases | O bit-exact (cases) | LSE bit-exact (cases) | O bits equal | LSE bits equal |", "|---|---|---|---|---|---|"]
    for path in args.paths.split(","):
        r = [x for x in rows if x["path"] == path]
        if not r:
            continue
        summary.append(f"| {path} | {len(r)} | {sum(x['o_bit_exact'] == 1 for x in r)} | {sum(x['lse_bit_exact'] == 1 for x in r)} | "
                       f"{100 * np.mean([x['o_bit_exact'] for x in r]):.4f} % | {100 * np.mean([x['lse_bit_exact'] for x in r]):.4f} % |")
    text = "\n".join(summary) + "\n"
    header = f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, flashnumerics {fn.__version__}, seed {args.seed}"
    print(f"\n{header}\n\n{text}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "fa3-surface.json"), "w") as f:
            json.dump({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "seed": args.seed, "rows": rows}, f, indent=1)
        with open(os.path.join(args.out, "fa3-surface.md"), "w") as f:
            f.write(header + "\n\n" + text)
    return 0 if all(x["o_bit_exact"] == 1 and x["lse_bit_exact"] == 1 for x in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
