#!/usr/bin/env python3
"""Copies the H100 tensor-core probe results (shared/data/h100-mma/*.npz, measured on an H100 on
2026-11-25, see shared/specs/hopper-tensor-core.md) into plain .npy files that the CPU tests
replay: Tests/HopperTests/Fixtures/h100-mma/.

Usage: python3 Scripts/export_mma_fixture.py [SHARED_DATA_DIR]   (default ../shared/data/h100-mma)
"""
import os
import sys

import numpy as np

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/data/h100-mma")
dst = os.path.join(os.path.dirname(__file__), "../Tests/HopperTests/Fixtures/h100-mma")
os.makedirs(dst, exist_ok=True)
for cases, probe in [("cases2.npz", "probe2_2026-11-25.npz"), ("cases3.npz", "probe3_carry_2026-11-25.npz")]:
    c, p = np.load(os.path.join(src, cases)), np.load(os.path.join(src, probe))
    stem = cases[:-4]
    for k in ["bf_A", "bf_B", "bf_C", "e4_A", "e4_B", "e4_C"]:
        np.save(os.path.join(dst, f"{stem}.{k}.npy"), c[k])
    for k in ["bf.wgmma", "bf.mma", "e4.wgmma_ss", "e4.wgmma_rs", "e4.mma"]:
        np.save(os.path.join(dst, f"{stem}.D.{k}.npy"), p[k])
    with open(os.path.join(dst, f"{stem}.names.txt"), "w") as f:
        f.write("\n".join(["bf: " + n for n in c["bf_names"]] + ["e4: " + n for n in c["e4_names"]]) + "\n")
p = np.load(os.path.join(src, "probe2_2026-11-25.npz"))
for form in ["rs_sd1", "rs_sd0", "ss_sd0"]:
    for k in "ABCD":
        np.save(os.path.join(dst, f"rand.{form}.{k}.npy"), p[f"rand.{form}.{k}"])
