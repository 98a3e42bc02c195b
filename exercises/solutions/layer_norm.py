"""Exercise 13: layer norm's backward, as an engine `Function` (lesson 16).

Each row of x (N, E) is normalised over its E features, then scaled and shifted:
    mu = mean(x),  var = mean((x - mu)**2)  (divide by E, not E - 1),  r = 1 / sqrt(var + eps)
    xhat = (x - mu) * r,   y = gamma * xhat + beta
Backward, given dy (N, E): gamma and beta were broadcast over the rows; x reaches y directly and
through mu and var, which depend on every x of its row.
"""

import numpy as np

from tinygrad_seq import Function


class LayerNorm(Function):
    """Layer norm over the last axis as one graph node: LayerNorm.apply(x, gamma, beta, eps=1e-5) -> y."""

    def forward(self, x, gamma, beta, eps=1e-5):
        """x (N, E), gamma (E,), beta (E,) -> y (N, E)."""
        mu = x.mean(axis=1, keepdims=True)
        r = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + eps)
        xhat = (x - mu) * r
        self.save_for_backward(xhat, r, gamma)
        return gamma * xhat + beta

    def backward(self, dy):
        """dy (N, E) -> (dx (N, E), dgamma (E,), dbeta (E,))."""
        xhat, r, gamma = self.saved_tensors
        g = dy * gamma
        dx = r * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
        return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)
