"""What every benchmark shares: one BLAS thread, median timing, a profile, the ratio line, an LM step.

Import this module before NumPy: BLAS reads its thread count once, when NumPy loads. One thread
unless OPENBLAS_NUM_THREADS (or OMP_/MKL_NUM_THREADS) is already set, because on a busy 2-core
machine threaded BLAS oversubscribes the cores and makes both sides' times erratic; ratios are what
these scripts report, measured in one process, never absolute times.

Times are CPU time of this process (`time.process_time`), not wall time: on a shared machine a step's
wall time is mostly waiting for a core, and a longer step waits more often, which skewed ratios by up
to 3x here; with one BLAS thread the CPU time is what the step costs.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cProfile  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

_clock = time.process_time


def engine_step(model, opt, ids, targets, fused: bool = False) -> float:
    """One language-model training step with the engine: logits (..., vocab), mean cross-entropy, Adam.

    `fused` selects the fused cross-entropy (the model chooses its own layers)."""
    from tinygrad_seq.functional import cross_entropy

    opt.zero_grad()
    logits = model(ids)
    loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), fused=fused)  # (N, vocab)
    loss.backward()
    opt.step()
    return loss.item()


def median_seconds(step: Callable[[], object], repeats: int) -> float:
    """Median CPU time of `repeats` calls of `step`, after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = _clock()
        step()
        times.append(_clock() - start)
    return statistics.median(times)


def compare(label: str, engine: Callable[[], object], numpy: Callable[[], object], repeats: int,
            target: float | None = None) -> float:
    """Time both steps, print their medians and ratio (next to its target if given), return the ratio.

    The two run in turns (engine, numpy, engine, ...), so that a change in the machine's load while
    they run moves both medians alike rather than the ratio.
    """
    t_engine, t_numpy = medians([engine, numpy], repeats)
    print(label)
    print(f"  tinygrad_seq {t_engine * 1e3:8.2f} ms   {ratio_line('numpy', t_engine, t_numpy, target)}")
    return t_engine / t_numpy


def ratio_line(name: str, t_engine: float, t_other: float, target: float | None = None) -> str:
    """`name`'s median time and tinygrad_seq's ratio to it (engine / other), next to its target if given."""
    ratio = t_engine / t_other
    goal = "" if target is None else f"   target <= {target:.2f}x: {'met' if ratio <= target else 'NOT met'}"
    return f"{name} {t_other * 1e3:8.2f} ms   ratio {ratio:5.2f}x{goal}"


def medians(steps: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median CPU seconds of each step, the steps run in turns (one warm-up call each first)."""
    for step in steps:
        step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for step, bucket in zip(steps, times, strict=True):
            start = _clock()
            step()
            bucket.append(_clock() - start)
    return [statistics.median(b) for b in times]


def profile(step: Callable[[], object], repeats: int, top: int = 25) -> None:
    """Run `step` under cProfile and print the `top` functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        step()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
