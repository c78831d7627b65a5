"""A small causal transformer with grouped-query attention, built in code (no downloads): the
end-to-end example's model. Random initialisation from a fixed seed; every attention goes through
`torch.nn.functional.scaled_dot_product_attention` (so `emulate` and `capture` see it)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q = nn.Linear(dim, heads * self.head_dim, bias=False)
        self.kv = nn.Linear(dim, 2 * kv_heads * self.head_dim, bias=False)
        self.o = nn.Linear(heads * self.head_dim, dim, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        q = self.q(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(x).view(b, n, 2, self.kv_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return self.o(o.transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(dim), nn.RMSNorm(dim)
        self.attention = Attention(dim, heads, kv_heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyGQATransformer(nn.Module):
    """Token ids (batch, seqlen) → logits (batch, seqlen, vocab). Defaults: 4 layers, width 256,
    8 query heads and 2 key/value heads of dim 32, vocabulary 512, positions up to 1024."""

    def __init__(self, vocab: int = 512, dim: int = 256, layers: int = 4, heads: int = 8, kv_heads: int = 2,
                 max_seqlen: int = 1024, seed: int = 0):
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.embed = nn.Embedding(vocab, dim)
            self.position = nn.Embedding(max_seqlen, dim)
            self.blocks = nn.ModuleList(Block(dim, heads, kv_heads) for _ in range(layers))
            self.norm = nn.RMSNorm(dim)
            self.head = nn.Linear(dim, vocab, bias=False)
            with torch.no_grad():
                # Larger query/key weights than the default: peaked attention, as trained models have.
                for block in self.blocks:
                    block.attention.q.weight.mul_(4)
                    block.attention.kv.weight.mul_(2)
                self.position.weight.mul_(1 / math.sqrt(dim))
        finally:
            torch.random.set_rng_state(generator_state)

    def forward(self, tokens):
        n = tokens.shape[1]
        x = self.embed(tokens) + self.position(torch.arange(n, device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def example_tokens(batch: int = 1, seqlen: int = 512, vocab: int = 512, seed: int = 0) -> torch.Tensor:
    """Token ids (batch, seqlen) drawn from a fixed seed (int64)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch, seqlen), generator=generator)
