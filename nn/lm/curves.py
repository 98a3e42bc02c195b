"""The loss-curve picture of a training run: losses on top, the gradient norm (log scale) below.

    >>> plot_history(history, "out/loss_curve.png", clip=5.0, baseline=("trigram", 1.70))

Needs matplotlib (the ``lm`` extra). It draws on a `matplotlib.figure.Figure` of its own, never through
pyplot, so the user's plotting backend (a notebook's inline plots) is left as it was and no display is
needed. The file is written beside itself and renamed, so a viewer never sees half a PNG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_seq.extras import require

from ..module import atomic_write

__all__ = ["moving_average", "plot_history"]


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` values at each point (fewer at the start): a readable training curve."""
    array = np.asarray(values, dtype=np.float64)
    if len(array) == 0:
        return array
    sums = np.cumsum(np.insert(array, 0, 0.0))
    lo = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[lo]) / (np.arange(1, len(values) + 1) - lo)


def plot_history(history: Mapping[str, Any], path: str | os.PathLike, clip: float | None = None,
                 baseline: tuple[str, float] | None = None, title: str = "",
                 valid_tokens: int | None = None) -> None:
    """Write a PNG: train loss (raw and smoothed) and validation loss per step, then the gradient norm.

    `history` has lists ``step``, ``loss``, ``grad_norm`` and ``val_step``, ``val_loss``. `clip` draws the
    clipping threshold on the norm panel; `baseline` (name, nats) a dashed line on the loss panel (measured on
    the same `valid_tokens` validation tokens as the validation curve).
    """
    figure = require("matplotlib.figure", "the loss-curve PNG")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    steps = np.asarray(history.get("step", []))
    fig = figure.Figure(figsize=(8, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    if len(steps):
        loss = np.asarray(history["loss"])
        top.plot(steps, loss, color="tab:blue", alpha=0.25, linewidth=0.8)
        top.plot(steps, moving_average(loss, max(1, len(loss) // 50)), color="tab:blue",
                 label="train (moving average)")
    if history.get("val_step"):
        on = f" ({valid_tokens:,} tokens)" if valid_tokens else ""
        top.plot(history["val_step"], history["val_loss"], "o-", color="tab:orange",
                 label="validation" + on)
    if baseline is not None:
        top.axhline(baseline[1], color="gray", linestyle="--",
                    label=f"{baseline[0]} baseline, same tokens")
    top.set_ylabel("loss (nats / token)")
    top.set_title(title or "training curve")
    top.grid(alpha=0.3)
    top.legend(loc="best")
    if len(steps):
        norms = np.maximum(np.asarray(history["grad_norm"], dtype=np.float64), 1e-12)
        bottom.plot(steps, norms, color="tab:green", linewidth=0.8,
                    label="gradient norm (before clipping)")
    if clip is not None:
        bottom.axhline(clip, color="tab:red", linestyle="--", label=f"clipping threshold ({clip:g})")
    bottom.set_yscale("log")
    # ticks at 1, 2, 5 x 10^k labelled as plain numbers: the default minor labels are typeset maths,
    # which costs more to lay out than the rest of the figure
    bottom.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    bottom.yaxis.set_minor_locator(NullLocator())
    bottom.set_xlabel("step")
    bottom.set_ylabel("global gradient norm")
    bottom.grid(alpha=0.3, which="both")
    bottom.legend(loc="best")
    fig.subplots_adjust(left=0.1, right=0.97, top=0.94, bottom=0.08, hspace=0.08)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
