"""How many threads BLAS may use: one, by default, in the training loop, the lessons and the command.

On two cores shared with other work, a second BLAS thread does not halve a small matrix product: the
two threads wait for each other and for the other processes. Measured on this project's 2-core machine
while it was busy (wall time, OPENBLAS_NUM_THREADS=1 vs 2, two rounds each; docs/performance.md):

                                                      1 thread        2 threads
    LM training step, LSTM (fused, H 256, T 64, B 32)   0.38-1.2 s      7.7-12.7 s
    LM training step, Transformer (fused, d 128, T 64)  0.31-0.74 s     4.1-7.2 s
    lesson 01 --quick                                   7.6-8.2 s       13.6-16.9 s
    lesson 05 --quick                                   48-71 s         199-288 s
    lesson 10 --quick                                   42-52 s         117-195 s
    tests of the layers (pytest -n 2, 3 files)          86 s            93 s

So `Trainer.run(threads=1)`, the lessons' ``--threads`` and ``tinygrad-seq ... --threads N`` all go
through `blas_threads`, the one place that sets it, with threadpoolctl: a core dependency, because a bare
install that could not limit BLAS trained 10-18x slower than a full one (README, "Performance").

    >>> with blas_threads(2):        # BLAS may use two threads inside the block
    ...     trainer.run(steps=100, threads=None)   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import warnings
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["DEFAULT_THREADS", "blas_threads", "too_many_threads"]

DEFAULT_THREADS = 1


def too_many_threads(n: int | None) -> str:
    """Why `n` BLAS threads will be slow (more than this machine's cores), or "" if they fit."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if n is None or n <= cores:
        return ""
    return (f"{n} threads on {cores} core{'s' if cores > 1 else ''}: the threads wait for each other and "
            f"training slows many times over (measured: 381 against 71,674 tokens/s); use at most {cores}")


def blas_threads(n: int | None = DEFAULT_THREADS) -> AbstractContextManager[Any]:
    """BLAS (OpenBLAS, MKL, BLIS) limited to `n` threads: inside a ``with`` block (restored after it), or
    for the rest of the process when called on its own. ``None`` leaves BLAS as it is.
    """
    if n is None:
        return contextlib.nullcontext()
    if n < 1:
        raise ValueError(f"blas_threads: the number of threads must be at least 1, got {n}")
    crowded = too_many_threads(n)
    if crowded:
        warnings.warn(crowded, stacklevel=2)
    import threadpoolctl  # imported on first use: it inspects the loaded libraries, which takes a moment

    return threadpoolctl.threadpool_limits(limits=n, user_api="blas")
