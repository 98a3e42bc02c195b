"""One default random Generator: what every layer, initialiser and constructor uses when given ``rng=None``.

`manual_seed(s)` reseeds it in place (as ``torch.manual_seed`` does), so the weights of every layer built
afterwards with ``rng=None``, and the dropout masks of layers that hold it, repeat from run to run.
``np.random.seed`` does not reach it: NumPy's legacy global state is a different generator.

    >>> manual_seed(0); a = generator().random()
    >>> manual_seed(0); b = generator().random()
    >>> a == b
    True
"""

from __future__ import annotations

import numpy as np

__all__ = ["generator", "manual_seed"]

_DEFAULT = np.random.default_rng()  # fresh entropy until manual_seed is called


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default Generator (the one ``rng=None`` means) and return it."""
    _DEFAULT.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return _DEFAULT


def generator(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """`rng` itself if it is a Generator, a new one seeded with it if it is an int, else the default one."""
    if rng is None:
        return _DEFAULT
    return np.random.default_rng(rng)
