"""Exercise 14: the sinusoidal positional encoding (lessons 10 and 15).

A table of T positions by d features that a Transformer adds to its inputs, so that it can tell the
positions apart. Column pairs (2i, 2i+1) share one frequency w_i = 1 / 10000**(2i / d):
    pe[t, 2i] = sin(t * w_i),   pe[t, 2i + 1] = cos(t * w_i)
(with d odd, the last column is a sine with no cosine beside it).
"""

import numpy as np


def positional_encoding(T, d):
    """The table (T, d) float64 of positions 0..T-1."""
    t = np.arange(T)[:, None]  # (T, 1)
    w = 1.0 / 10000 ** (np.arange(0, d, 2) / d)  # (ceil(d/2),)
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(t * w)
    pe[:, 1::2] = np.cos(t * w[: d // 2])
    return pe
