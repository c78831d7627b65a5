"""What emulated attention does to a whole model: per-layer error of the attention outputs and
the end-to-end effect on the logits, and a report with a per-layer figure.

Per layer (each SDPA call of one forward, in call order), the emulated output and torch's own
output of the same inputs are compared with the float64 SDPA of those inputs (torch's math
backend in double precision: about 2^-50 relative error, far below any format measured here):
RMSE (in output units), relative error (Frobenius norm of the difference over the reference's)
and cosine similarity. The inputs are the emulated run's own activations, so later layers see
the earlier layers' errors, as a deployed model would.
End to end, the emulated model's logits are compared with the model's own: the mean KL
divergence KL(own ‖ emulated) over positions (nats), top-1 agreement (fraction of positions),
and, with target ids, the perplexity of each.
"""
from __future__ import annotations

import json
import math
import os

import torch
import torch.nn.functional as F

from .. import _validate
from .hooks import emulate


def _errors(out, ref):
    o, r = out.detach().double().flatten(), ref.detach().double().flatten()
    d = o - r
    norm = r.norm().item()
    cosine = (o @ r / (o.norm() * r.norm())).item() if o.norm() > 0 and norm > 0 else float("nan")
    return dict(rmse=math.sqrt((d @ d).item() / max(d.numel(), 1)), relative=(d.norm().item() / norm) if norm > 0 else float("nan"),
                cosine=cosine, max_abs=d.abs().max().item() if d.numel() else 0.0)


def _float64_sdpa(sdpa, args, kwargs):
    q, k, v = (x.detach().double() for x in args)
    mask = kwargs["attn_mask"]
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.double()
    return sdpa(q, k, v, attn_mask=mask, is_causal=kwargs["is_causal"], scale=kwargs["scale"],
                                          enable_gqa=kwargs["enable_gqa"])


def _own_sdpa(original, args, kwargs):
    return original(*(x.detach() for x in args), **kwargs)


def compare(model: torch.nn.Module, tokens: torch.Tensor, scheme: str, algorithm: str | None = "blocked",
            targets: torch.Tensor | None = None, seed: int = 0, threads: int | None = None) -> dict:
    """Runs `model(tokens)` twice, as it is and under `emulate(scheme, algorithm)`, and returns
    {"scheme", "algorithm", "layers": [{"layer", "shape", "emulated": {rmse, relative, cosine,
    max_abs}, "torch": {...}}], "logits": {"kl_divergence", "top1_agreement", "max_abs"},
    "perplexity": {"torch", "emulated"} (with `targets`, ids of the logits' shape without the
    vocabulary axis), "finite": whether every emulated logit is finite}."""
    function = "compare"
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{function}: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(f"{function}: tokens must be a torch.Tensor, got {type(tokens).__name__}")
    _validate.text(function, "scheme", scheme)
    original = F.scaled_dot_product_attention
    layers = []

    def observe(call, args, kwargs, out):
        truth = _float64_sdpa(original, args, kwargs)
        own = _own_sdpa(original, args, kwargs)
        layers.append(dict(layer=call, shape=list(args[0].shape), emulated=_errors(out, truth), torch=_errors(own, truth)))

    with torch.no_grad():
        own_logits = model(tokens)
        with emulate(scheme=scheme, algorithm=algorithm, seed=seed, threads=threads, observe=observe):
            emulated_logits = model(tokens)
    own_lp = F.log_softmax(own_logits.double(), dim=-1)
    emu_lp = F.log_softmax(emulated_logits.double(), dim=-1)
    kl = (own_lp.exp() * (own_lp - emu_lp)).sum(-1)
    result = dict(scheme=scheme, algorithm=algorithm, layers=layers,
                  logits=dict(kl_divergence=kl.mean().item(),
                              top1_agreement=(own_logits.argmax(-1) == emulated_logits.argmax(-1)).double().mean().item(),
                              max_abs=(own_logits.double() - emulated_logits.double()).abs().max().item()),
                  finite=bool(torch.isfinite(emulated_logits).all()))
    if targets is not None:
        if not isinstance(targets, torch.Tensor) or targets.shape != own_logits.shape[:-1]:
            raise ValueError(f"{function}: targets must be a tensor of shape {tuple(own_logits.shape[:-1])}")
        nll = lambda lp: -lp.gather(-1, targets.unsqueeze(-1)).mean().item()
        result["perplexity"] = dict(torch=math.exp(nll(own_lp)), emulated=math.exp(nll(emu_lp)))
    return result


def write_report(results: list[dict], folder, title: str = "Emulated attention in a model") -> str:
    """Writes `report.md`, `per-layer.png` (relative error of each layer's attention output, one
    line per scheme, torch's own for comparison) and `results.json` into `folder` (created);
    returns the report's path. Files are written whole (temporary name, then renamed)."""
    function = "write_report"
    if not results or not all(isinstance(r, dict) and "layers" in r for r in results):
        raise ValueError(f"{function}: results must be a non-empty list of compare() results")
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for r in results:
        ax.semilogy([e["layer"] for e in r["layers"]], [e["emulated"]["relative"] for e in r["layers"]], marker="o", label=r["scheme"])
    first = results[0]["layers"]
    ax.semilogy([e["layer"] for e in first], [e["torch"]["relative"] for e in first], marker="x", linestyle="--", color="gray",
                label="torch (own SDPA)")
    ax.set_xlabel("layer (SDPA call)")
    ax.set_ylabel("relative error of attention output")
    ax.set_title("Per-layer attention error against float64 SDPA")
    ax.legend(fontsize="small")
    fig.tight_layout()
    _replace(os.path.join(folder, "per-layer.png"), lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)
    lines = [f"# {title}", "", "Per-layer error of the attention outputs against the float64 SDPA of the same inputs, and the",
             "end-to-end effect on the logits (KL divergence in nats, mean over positions).", "",
             "![per-layer relative error](per-layer.png)", "",
             "| scheme | algorithm | worst layer relative error | KL(own ‖ emulated) | top-1 agreement | perplexity own / emulated | finite |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        worst = max(e["emulated"]["relative"] for e in r["layers"]) if r["layers"] else float("nan")
        ppl = r.get("perplexity")
        ppl_text = f"{ppl['torch']:.4g} / {ppl['emulated']:.4g}" if ppl else "–"
        lines.append(f"| {r['scheme']} | {r['algorithm']} | {worst:.3e} | {r['logits']['kl_divergence']:.3e} | "
                     f"{r['logits']['top1_agreement']:.4f} | {ppl_text} | {'yes' if r['finite'] else 'no'} |")
    lines += ["", "Per layer (relative error; torch's own SDPA in the input dtype for comparison):", "",
              "| layer | " + " | ".join(r["scheme"] for r in results) + " | torch |", "|---|" + "---|" * (len(results) + 1)]
    for i, e in enumerate(first):
        cells = [f"{r['layers'][i]['emulated']['relative']:.3e}" if i < len(r["layers"]) else "–" for r in results]
        lines.append(f"| {e['layer']} | " + " | ".join(cells) + f" | {e['torch']['relative']:.3e} |")
    report = os.path.join(folder, "report.md")
    _replace(report, lambda p: open(p, "w", encoding="utf-8").write("\n".join(lines) + "\n"))
    _replace(os.path.join(folder, "results.json"), lambda p: open(p, "w", encoding="utf-8").write(json.dumps(results, indent=1) + "\n"))
    return report


def _replace(path, write):
    temporary = path + ".partial"
    write(temporary)
    os.replace(temporary, path)
