"""Exercise 4: gradient clipping by the global norm (lesson 4).

The global norm is the norm of all gradients taken together as one long vector:
total = sqrt(sum over every array g of sum(g**2)). When total > max_norm, every gradient is multiplied
by the same factor max_norm / (total + 1e-6), so the direction of the whole update is kept; otherwise
the gradients are returned unchanged.
"""

import numpy as np


def clip_grad_norm(grads, max_norm):
    """grads: a list of arrays (any shapes) -> (the clipped list of new arrays, the total norm before)."""
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    factor = max_norm / (total + 1e-6)
    if factor >= 1.0:
        return [g.copy() for g in grads], total
    return [g * factor for g in grads], total
