"""Exercise 7: the GRU cell, forward and backward (lessons 5 and 9).

The three gates are packed side by side in the columns of W_x (D, 3H), W_h (H, 3H), b_x (3H,) and
b_h (3H,), in the order r, z, n. With ax = x @ W_x + b_x and ah = h_prev @ W_h + b_h (each (B, 3H)):
    r = sigmoid(ax_r + ah_r),  z = sigmoid(ax_z + ah_z)
    n = tanh(ax_n + r * ah_n)                 (the reset gate r scales the hidden part only)
    h_next = (1 - z) * n + z * h_prev
"""

import numpy as np

from tinygrad_seq import Function


def sigmoid(a):  # given
    """1 / (1 + exp(-a)), elementwise."""
    return 1.0 / (1.0 + np.exp(-a))


class GRUCell(Function):
    """One GRU step as a graph node: GRUCell.apply(x, h_prev, W_x, W_h, b_x, b_h) -> h_next."""

    def forward(self, x, h_prev, W_x, W_h, b_x, b_h):
        """x (B, D), h_prev (B, H), W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,) -> h_next (B, H)."""
        H = h_prev.shape[1]
        ax, ah = x @ W_x + b_x, h_prev @ W_h + b_h
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        self.save_for_backward(x, h_prev, W_x, W_h, r, z, n, ah[:, 2 * H:])
        return (1 - z) * n + z * h_prev

    def backward(self, dh_next):
        """dh_next (B, H) -> (dx, dh_prev, dW_x, dW_h, db_x, db_h).

        h_prev reaches h_next directly (z * h_prev) and through every gate; r multiplies only ah_n, so the
        x side and the h side of the n gate get different gradients.
        """
        x, h_prev, W_x, W_h, r, z, n, ah_n = self.saved_tensors
        dan = dh_next * (1 - z) * (1 - n ** 2)
        dar = dan * ah_n * r * (1 - r)
        daz = dh_next * (h_prev - n) * z * (1 - z)
        dax = np.concatenate([dar, daz, dan], axis=1)
        dah = np.concatenate([dar, daz, dan * r], axis=1)
        dh_prev = dah @ W_h.T + dh_next * z
        return dax @ W_x.T, dh_prev, x.T @ dax, h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0)
