#!/usr/bin/env python3
"""Writes notebooks-data/examples/outliers.npy: the FlashAttention-3 paper's outlier distribution
N(0,1) + N(0,100)·Bernoulli(0.001), float32, shape (batch 1, seqlen 512, heads 2, headdim 64),
numpy seed 0 (PCG64)."""
import numpy as np

rng = np.random.default_rng(0)
shape = (1, 512, 2, 64)
x = rng.standard_normal(shape) + rng.normal(0.0, 10.0, shape) * (rng.random(shape) < 0.001)
np.save("notebooks-data/examples/outliers.npy", x.astype(np.float32))
