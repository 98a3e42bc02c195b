"""The checks of the Transformer's shape exercises: splitting into heads, the positional encoding table."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_seq import Tensor
from tinygrad_seq.nn import SinusoidalPositionalEncoding

from .checking import Context
from .compare import Axis, compare, layout
from .report import call

__all__ = ["check_multihead", "check_positional_encoding"]

HEADS = layout("batch", "head", Axis("position"), "feature")


def check_multihead(ns: dict[str, Any], ctx: Context) -> list[str]:
    """split_heads against reshape-then-swap of engine Tensors; merge_heads as its inverse."""
    rng = ctx.rng(15)
    for B, T, E, h in ((2, 3, 8, 2), (1, 4, 6, 3)):
        x = rng.standard_normal((B, T, E))
        want = Tensor(x).reshape(B, T, h, E // h).transpose(0, 2, 1, 3).numpy()  # (B, T, E) -> (B, h, T, E/h)
        got = call("split_heads", ns["split_heads"], x.copy(), h)
        compare(f"split_heads(x of shape {x.shape}, {h})", got, want, HEADS,
                known=[(x.reshape(B, h, T, E // h), "it reshapes straight to (B, heads, T, E/heads), which "
                                                    "mixes positions and heads: reshape to (B, T, heads, "
                                                    "E/heads), then swap axes 1 and 2"),
                       (x.reshape(B, T, E // h, h).transpose(0, 3, 1, 2), "each head takes every h-th "
                                                                          "feature: head j takes the "
                                                                          "E/heads features in a row")])
        back = call("merge_heads", ns["merge_heads"], want.copy())
        positions = layout("batch", Axis("position"), "feature")
        compare(f"merge_heads(heads of shape {want.shape})", back, x, positions,
                known=[(want.reshape(B, T, E), "it reshapes without swapping the head and position axes "
                                               "back first")])
    return ["split_heads and merge_heads match the engine's reshape and swap, and merge undoes split"]


def check_positional_encoding(ns: dict[str, Any], ctx: Context) -> list[str]:
    """positional_encoding against nn.SinusoidalPositionalEncoding's table (float32: 2e-6 apart at most)."""
    for T, d in ((5, 6), (7, 5)):
        table = SinusoidalPositionalEncoding(d, max_len=T).pe.numpy().astype(np.float64)
        got = call("positional_encoding", ns["positional_encoding"], T, d)
        t, i = np.arange(T)[:, None], np.arange(d)[None, :]
        mine = None if got is None else np.asarray(got, dtype=np.float32)
        angle = t / 10000 ** ((i - i % 2) / d)  # (T, d): column pairs share a frequency
        compare(f"positional_encoding({T}, {d})", mine, table,
                layout(Axis("position"), "dimension"), atol=2e-6,
                known=[(np.where(i % 2 == 0, np.cos(angle), np.sin(angle)),
                        "sine and cosine are swapped: even dimensions take sin, odd ones cos"),
                       (np.where(i % 2 == 0, np.sin(t / 10000 ** (i / d)), np.cos(t / 10000 ** (i / d))),
                        "the frequency uses the column number: columns 2i and 2i+1 share 10000**(2i/d)")])
    return ["positional_encoding matches nn.SinusoidalPositionalEncoding's table for (T, d) = (5, 6), (7, 5)"]
